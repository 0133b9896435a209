import socket
import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone

from councilors.models import Execution
from councilors.reaper import WORKER_LOST, executions_reap_lost, lost_after, worker_is_dead, worker_label
from councilors.services import execution_start
from tests.factories import make_councilor

pytestmark = pytest.mark.django_db

HOST = socket.gethostname()


def _finished_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _running(worker: str, *, started_ago: timedelta = timedelta(0)) -> Execution:
    councilor = make_councilor()
    execution = execution_start(agent=councilor.agent, councilor=councilor, prompt="p", worker=worker)
    Execution.objects.filter(pk=execution.pk).update(started_at=timezone.now() - started_ago)
    return execution


def test_a_live_worker_here_is_not_dead():
    assert not worker_is_dead(worker=worker_label(), started_at=timezone.now())


def test_a_gone_process_here_is_dead():
    assert worker_is_dead(worker=f"{HOST}:{_finished_pid()}", started_at=timezone.now() - timedelta(seconds=5))


def test_a_pid_reused_by_a_newer_process_counts_as_dead():
    assert worker_is_dead(worker=worker_label(), started_at=timezone.now() - timedelta(days=365 * 30))


def test_workers_on_other_hosts_or_unknown_are_left_to_the_age_rule():
    assert not worker_is_dead(worker="elsewhere:1", started_at=timezone.now())
    assert not worker_is_dead(worker="", started_at=timezone.now())


def test_the_run_of_a_dead_worker_ends_as_error_worker_lost():
    lost = _running(f"{HOST}:{_finished_pid()}")
    alive = _running(worker_label())
    assert [e.execution_id for e in executions_reap_lost()] == [lost.execution_id]
    lost.refresh_from_db()
    alive.refresh_from_db()
    assert (lost.status, lost.severity, lost.error) == ("error", "error", WORKER_LOST)
    assert lost.completed_at is not None and lost.duration_ms is not None
    assert alive.status == Execution.Status.RUNNING


def test_a_run_asked_to_stop_whose_worker_died_ends_cancelled_not_lost():
    asked = _running(f"{HOST}:{_finished_pid()}")
    Execution.objects.filter(pk=asked.pk).update(cancel_requested_at=timezone.now(), cancelled_by_name="ada")
    assert [e.execution_id for e in executions_reap_lost()] == [asked.execution_id]
    asked.refresh_from_db()
    assert (asked.status, asked.severity, asked.error, asked.cancelled_by_name) == (
        "cancelled",
        "error",
        "cancelled",
        "ada",
    )


def test_a_run_older_than_the_worker_timeout_is_lost_wherever_it_ran():
    old = _running("elsewhere:1", started_ago=lost_after() + timedelta(seconds=1))
    recent = _running("elsewhere:2", started_ago=lost_after() - timedelta(seconds=30))
    assert [e.pk for e in executions_reap_lost()] == [old.pk]
    recent.refresh_from_db()
    assert recent.status == Execution.Status.RUNNING
