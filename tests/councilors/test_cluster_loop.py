"""The loop beside each django-q2 cluster: scheduler passes every tick, reaper and repair on their own
cadence, a stop on SIGTERM. The cluster is a stand-in (its sentinel's liveness and `stop()` are all
the loop uses of it); the passes are the real ones, on the test database.

End to end, with real `qcluster` processes: tests/councilors/test_qcluster.py.
"""

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from django_q.models import OrmQ, Schedule

from councilors.cluster_loop import ClusterLoop
from councilors.models import Councilor, Execution, RunIncident
from councilors.reaper import WORKER_LOST
from councilors.retention import PRUNE_TASK
from councilors.scheduling import RUN_TASK
from councilors.services import execution_start
from tests.councilors.cluster import make_due
from tests.factories import make_councilor

pytestmark = pytest.mark.django_db(transaction=True)  # the loop closes old connections, as qcluster does

TICK_S = 0.01


class StandInCluster:
    """What the loop uses of django-q2's Cluster; each liveness check is one turn of the loop.

    `on_check[n]` runs when the loop asks for the n-th time (before its n-th pass); the sentinel
    dies after `alive_for` checks.
    """

    def __init__(self, *, alive_for: int, on_check: dict[int, Callable[[], None]] | None = None) -> None:
        self.sentinel = self
        self.alive_for = alive_for
        self.on_check = on_check or {}
        self.checks = 0
        self.stopped = False

    def is_alive(self) -> bool:
        self.checks += 1
        if self.checks in self.on_check:
            self.on_check[self.checks]()
        return self.checks <= self.alive_for

    def stop(self) -> None:
        self.stopped = True


@pytest.fixture(autouse=True)
def _restore_signal_handlers() -> Iterator[None]:
    """The loop installs its own SIGTERM/SIGINT handlers, as it may in qcluster's process; not in pytest's."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def lost_run() -> Execution:
    """A `running` execution whose worker (a process on this host) is gone."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    councilor = make_councilor()
    return execution_start(
        agent=councilor.agent, councilor=councilor, prompt="p", worker=f"{socket.gethostname()}:{process.pid}"
    )


def without_schedule() -> Councilor:
    """An enabled councilor whose schedule was deleted behind the services' back."""
    councilor = make_councilor()
    Schedule.objects.filter(pk=councilor.q_schedule_id).delete()
    return councilor


def has_schedule(councilor: Councilor) -> bool:
    councilor.refresh_from_db()
    return councilor.q_schedule_id is not None


def status(execution: Execution) -> tuple[str, str | None]:
    execution.refresh_from_db()
    return execution.status, execution.error


def queued_for(councilor: Councilor) -> int:
    """How many runs of the councilor django-q2's scheduler pass put on the queue."""
    return sum(councilor.pk in task.args() for task in OrmQ.objects.all() if task.func() == RUN_TASK)


@pytest.mark.parametrize(("reap_every", "reaped_again"), [(3600.0, False), (0.0, True)])
def test_every_tick_runs_the_scheduler_and_every_reap_interval_the_reaper_and_repair(reap_every, reaped_again):
    lost_before, unscheduled_before = lost_run(), without_schedule()
    due_before = make_councilor(schedule_value="1m")
    make_due(due_before)
    later: dict[str, object] = {}

    def meanwhile() -> None:  # between the loop's second and third pass
        later["lost"], later["unscheduled"] = lost_run(), without_schedule()
        later["due"] = make_councilor(schedule_value="1m")
        make_due(later["due"])

    cluster = StandInCluster(alive_for=5, on_check={3: meanwhile})
    ClusterLoop(cluster=cluster, tick=TICK_S, reap_every=reap_every).run()

    assert (cluster.checks, cluster.stopped) == (6, True)  # five passes, then the sentinel was dead
    # The first pass reaped, repaired and scheduled.
    assert status(lost_before) == (Execution.Status.ERROR, WORKER_LOST)
    assert has_schedule(unscheduled_before)
    assert queued_for(due_before) == 1
    # Each later tick scheduled what fell due; the reaper and repair ran again only if their interval allowed.
    assert queued_for(later["due"]) == 1
    assert (status(later["lost"])[0] == Execution.Status.ERROR) is reaped_again
    assert has_schedule(later["unscheduled"]) is reaped_again


def test_with_tick_0_scheduling_is_left_to_django_q2_and_the_reaper_still_runs():
    lost = lost_run()
    due = make_councilor(schedule_value="1m")
    make_due(due)
    cluster = StandInCluster(alive_for=1)
    ClusterLoop(cluster=cluster, tick=0, reap_every=0.0).run()  # sleeps min(reap_every, 1 s) = 0 between passes
    assert status(lost) == (Execution.Status.ERROR, WORKER_LOST)
    assert queued_for(due) == 0
    assert cluster.stopped


def test_sigterm_ends_the_loop_after_the_current_pass_and_stops_the_cluster():
    cluster = StandInCluster(alive_for=1000, on_check={2: lambda: os.kill(os.getpid(), signal.SIGTERM)})
    loop = ClusterLoop(cluster=cluster, tick=TICK_S, reap_every=3600.0)
    loop.run()
    assert loop.stopping is True
    assert (cluster.checks, cluster.stopped) == (2, True)  # the pass under way finished; no third one


def test_sigint_stops_it_the_same_way():
    cluster = StandInCluster(alive_for=1000, on_check={1: lambda: os.kill(os.getpid(), signal.SIGINT)})
    ClusterLoop(cluster=cluster, tick=TICK_S, reap_every=3600.0).run()
    assert (cluster.checks, cluster.stopped) == (1, True)


def test_a_failing_pass_is_logged_and_the_loop_goes_on(caplog):
    def scheduler_pass_with_the_database_down() -> None:
        raise ConnectionError("database restarting")

    ClusterLoop._guarded(scheduler_pass_with_the_database_down)  # does not raise
    assert "scheduler_pass_with_the_database_down failed; trying again next tick" in caplog.text
    assert "database restarting" in caplog.text  # with the traceback


def test_the_first_pass_judges_missed_slots_before_django_q2_moves_the_schedules_on():
    skip = make_councilor(schedule_value="1m", catch_up=Councilor.CatchUp.SKIP)
    run_once = make_councilor(schedule_value="1m", catch_up=Councilor.CatchUp.RUN_ONCE)
    for councilor in (skip, run_once):
        make_due(councilor, ago=timedelta(minutes=10))  # every cluster was down for ten minutes

    ClusterLoop(cluster=StandInCluster(alive_for=2), tick=TICK_S, reap_every=3600.0).run()

    assert (
        RunIncident.objects.get(councilor=skip, kind="missed").details["slots"] == 11
    )  # ten minutes ago, and each minute since
    assert (
        RunIncident.objects.get(councilor=run_once, kind="missed").details["slots"] == 11
    )  # ten minutes ago, and each minute since
    assert queued_for(skip) == 0  # skipped: no run for the missed slots
    assert queued_for(run_once) == 1  # one catch-up run
    assert Schedule.objects.filter(func=PRUNE_TASK).count() == 1  # the daily prune is scheduled
