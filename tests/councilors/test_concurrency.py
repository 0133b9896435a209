"""Concurrency caps: a run over a cap is recorded `queued`, and starts, once, when a place frees."""

import sys
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import OrmQ

from councilors import tasks
from councilors.concurrency import START_TASK, queue_place, queued_runs_look, run_admitted
from councilors.models import Agent, Execution, SkippedRun
from councilors.reaper import worker_label
from councilors.selectors import execution_wait_finished
from councilors.services import execution_finish, execution_start, queued_run_start, queued_runs_kick_after
from tests.councilors.cluster import eventually, qclusters
from tests.factories import make_agent, make_councilor

PY = sys.executable


def running(agent, **fields) -> Execution:
    return execution_start(agent=agent, prompt="busy", worker=worker_label(), **fields)


def start_tasks() -> int:
    return sum(1 for task in OrmQ.objects.all() if task.task.get("func") == START_TASK)


@pytest.mark.django_db
def test_an_agent_at_its_cap_queues_the_run_and_the_worker_returns():
    agent = make_agent(max_concurrent=1)
    busy = running(agent)
    outcome = tasks.run_agent_task(agent.agent_id, "second", "", "exec_second_1")
    queued = Execution.objects.get(execution_id=outcome)
    assert (queued.status, queued.worker, queued.severity, queued.completed_at) == ("queued", "", "", None)
    assert queued.run_number == busy.run_number + 1
    assert queue_place(queued) == 1

    # The busy run ends: its worker finds the queued run waiting and asks for a start task.
    execution_finish(execution=busy, output="done")
    queued_runs_kick_after(outcome=busy)
    assert start_tasks() == 1
    started = tasks.start_queued_run_task()
    assert started == queued.execution_id
    queued.refresh_from_db()
    assert (queued.status, queued.worker) == ("completed", worker_label())
    assert queued.started_at >= busy.completed_at  # set again when it started
    assert tasks.start_queued_run_task() == tasks.NOTHING_QUEUED


@pytest.mark.django_db
def test_a_cap_set_while_a_run_is_in_flight_counts_at_its_end():
    """The finish reads the agent's cap as it is then: a run queued under a cap set mid-run starts at once."""
    agent = make_agent()
    busy = running(agent)
    Agent.objects.filter(pk=agent.pk).update(max_concurrent=1)  # an admin caps the agent meanwhile
    queued = Execution.objects.get(execution_id=tasks.run_agent_task(agent.agent_id, "second", "", "exec_capped_1"))
    assert queued.status == "queued"
    assert busy.agent.max_concurrent is None  # as the run's start read it
    execution_finish(execution=busy, output="done")
    queued_runs_kick_after(outcome=busy)
    assert start_tasks() == 1
    assert tasks.start_queued_run_task() == queued.execution_id


@pytest.mark.django_db
def test_without_caps_every_run_starts():
    agent = make_agent()
    running(agent)
    outcome = tasks.run_agent_task(agent.agent_id, "second")
    assert Execution.objects.get(execution_id=outcome).status == "completed"


@pytest.mark.django_db
def test_the_cluster_cap_counts_runs_on_this_clusters_workers(settings):
    settings.COUNCILORS_MAX_CONCURRENT_RUNS = 1
    other = make_agent()
    running(make_agent())  # on this process: one of "this cluster's" workers (the siblings of this process)
    assert not run_admitted(agent=other, worker=worker_label())
    outcome = tasks.run_agent_task(other.agent_id, "over the cap")
    assert Execution.objects.get(execution_id=outcome).status == "queued"
    # A run on another machine's worker does not count against this cluster.
    Execution.objects.filter(status="running").update(worker="elsewhere:1")
    assert run_admitted(agent=other, worker=worker_label())
    settings.COUNCILORS_MAX_CONCURRENT_RUNS = 0
    assert run_admitted(agent=other, worker=worker_label())


@pytest.mark.django_db
def test_a_councilor_over_its_agents_cap_is_queued_and_its_next_due_time_skipped():
    councilor = make_councilor(agent=make_agent(max_concurrent=1))
    running(make_agent())  # another agent's run does not count
    agent_run = running(councilor.agent)  # a run of the agent by hand fills its one place
    queued = tasks.run_councilor_task(councilor.councilor_id, "exec_queued_1")
    assert Execution.objects.get(execution_id=queued).status == "queued"
    # The queued run is in flight: the councilor's next due time does not overlap it.
    tasks.run_scheduled_councilor_task(councilor.pk, timezone.now().isoformat())
    skipped = SkippedRun.objects.get(councilor=councilor)
    assert (skipped.reason, skipped.running_execution.execution_id) == ("overlap", queued)

    execution_finish(execution=agent_run, output="done")
    assert tasks.start_queued_run_task() == queued
    finished = Execution.objects.get(execution_id=queued)
    assert (finished.status, finished.kind, finished.max_attempts) == ("completed", "councilor", 1)


@pytest.mark.django_db
def test_the_oldest_queued_run_that_fits_starts_first_and_a_cancelled_one_never():
    full, free = make_agent(max_concurrent=1), make_agent(max_concurrent=1)
    running(full)
    running(free)
    first = Execution.objects.get(execution_id=tasks.run_agent_task(full.agent_id, "1"))
    second = Execution.objects.get(execution_id=tasks.run_agent_task(free.agent_id, "2"))
    third = Execution.objects.get(execution_id=tasks.run_agent_task(free.agent_id, "3"))
    Execution.objects.filter(pk=second.pk).update(started_at=first.started_at + timedelta(milliseconds=1))
    Execution.objects.filter(pk=third.pk).update(started_at=first.started_at + timedelta(milliseconds=2))
    assert [queue_place(Execution.objects.get(pk=run.pk)) for run in (first, second, third)] == [1, 2, 3]
    Execution.objects.filter(agent=free, status="running").update(
        status="completed", severity="success", completed_at=timezone.now(), duration_ms=1
    )
    # `full` still has no room: its older run waits, `free`'s oldest starts.
    # A cancel finished `second` meanwhile (the cancel service's doing): the starter skips it.
    Execution.objects.filter(pk=second.pk).update(
        status="cancelled", severity="error", completed_at=timezone.now(), duration_ms=0
    )
    started = queued_run_start(worker=worker_label())
    assert started.pk == third.pk
    assert queued_run_start(worker=worker_label()) is None  # `free` is full again, `full` still is


@pytest.mark.django_db
def test_the_cluster_loop_looks_for_queued_runs():
    assert queued_runs_look() is False
    agent = make_agent(max_concurrent=1)
    running(agent)
    tasks.run_agent_task(agent.agent_id, "waits")
    assert queued_runs_look() is True
    assert start_tasks() == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_on_a_real_cluster_a_run_over_the_cap_waits_queued_then_runs(tmp_path):
    from django_q.tasks import async_task

    gate = tmp_path / "gate"
    hold = f"import os, time\nwhile not os.path.exists({str(gate)!r}): time.sleep(0.02)\nprint('released')"
    capped = make_agent(max_concurrent=1, runner_config={"argv": [PY, "-c", hold], "timeout": 60})
    quick = make_agent()
    with qclusters(1, log_dir=tmp_path, COUNCILORS_SANDBOX="none", Q_WORKERS="2"):
        async_task("councilors.tasks.run_agent_task", capped.agent_id, "first", "", "exec_cap_first")
        eventually(lambda: Execution.objects.filter(execution_id="exec_cap_first", status="running").exists())
        async_task("councilors.tasks.run_agent_task", capped.agent_id, "second", "", "exec_cap_second")
        eventually(lambda: Execution.objects.filter(execution_id="exec_cap_second", status="queued").exists())
        # The queued run holds no worker: with one of two workers busy, another agent's run still runs.
        async_task("councilors.tasks.run_agent_task", quick.agent_id, "quick", "", "exec_cap_quick")
        assert execution_wait_finished(execution_id="exec_cap_quick", timeout=30).status == "completed"
        assert Execution.objects.get(execution_id="exec_cap_second").status == "queued"

        gate.touch()
        second = execution_wait_finished(execution_id="exec_cap_second", timeout=30)
    first = Execution.objects.get(execution_id="exec_cap_first")
    assert (first.status, second.status, second.output.strip()) == ("completed", "completed", "released")
    assert second.started_at >= first.completed_at


@pytest.mark.django_db
def test_the_dashboard_and_the_run_page_show_a_queued_run_with_its_place(admin_client):
    from django.urls import reverse

    councilor = make_councilor(agent=make_agent(max_concurrent=1))
    running(councilor.agent)
    queued_id = tasks.run_councilor_task(councilor.councilor_id, "exec_q_dash")
    dashboard = admin_client.get(reverse("dashboard")).content.decode()
    assert "Queued (#1 in line)" in dashboard
    assert f'"running_execution_id": "{queued_id}"' in dashboard and '"queue_place": 1' in dashboard
    run_page = admin_client.get(reverse("run_detail", args=[queued_id])).content.decode()
    assert 'id="run-queue-place">#1 in line<' in run_page


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_queued_run_starts_exactly_once_however_many_workers_try(tmp_path):
    from django_q.tasks import async_task

    marks = tmp_path / "marks"
    script = f"open({str(marks)!r}, 'a').write('ran\\n'); print('ran')"
    agent = make_agent(max_concurrent=1, runner_config={"argv": [PY, "-c", script], "timeout": 30})
    queued = execution_start(agent=agent, prompt="once", queued=True)
    with qclusters(2, log_dir=tmp_path, COUNCILORS_SANDBOX="none", Q_WORKERS="2"):
        for _ in range(6):  # four workers on two clusters race for the one queued run
            async_task(START_TASK)
        finished = execution_wait_finished(execution_id=queued.execution_id, timeout=60)
        eventually(lambda: not OrmQ.objects.exists(), timeout=60, what="every start task done")
    assert (finished.status, finished.output.strip()) == ("completed", "ran")
    assert marks.read_text() == "ran\n"
    assert Execution.objects.filter(agent=agent).count() == 1
