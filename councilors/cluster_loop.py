"""The loop each `run_cluster` runs beside its django-q2 cluster: on-time schedules, the lost-run reaper,
the schedule repair, the look for queued runs, late / stuck / missed incidents (councilors/incidents.py),
the daily prune's schedule and the trimming of django-q2's task results.

It runs in the command's main process, which stock django-q2 leaves idle while its Sentinel child
guards the workers: the cluster is forked before the first tick, so no thread or database
connection of ours is copied into it.
"""

import logging
import signal
import time
from dataclasses import dataclass, field

from django.db import close_old_connections
from django_q.brokers import get_broker
from django_q.cluster import Cluster

from councilors.app_settings import app_settings
from councilors.concurrency import queued_runs_look
from councilors.incidents import councilor_slots_missed, run_incidents_check
from councilors.reaper import executions_reap_lost
from councilors.retention import prune_schedule_ensure
from councilors.scheduling import councilor_schedules_repair, scheduler_tick
from councilors.task_results import task_results_prune

logger = logging.getLogger(__name__)


@dataclass
class ClusterLoop:
    """Calls django-q2's scheduler pass every `tick` seconds; the reaper, repair and result trim every `reap_every`."""

    cluster: Cluster
    tick: float
    reap_every: float = field(default_factory=lambda: app_settings.REAPER_INTERVAL_S)
    stopping: bool = False

    def run(self) -> None:
        # Our own handlers only set a flag: django-q2's handler stops the cluster from inside the
        # signal handler, which could interrupt a tick holding a database transaction.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._stop)
        broker = get_broker()
        self._guarded(prune_schedule_ensure)
        next_reap = time.monotonic()
        while not self.stopping and self.cluster.sentinel.is_alive():
            if time.monotonic() >= next_reap:
                # Before the scheduler pass: slots missed while no cluster ran are judged (and a
                # `skip` councilor's schedule moved on) before django-q2 turns the oldest into a task.
                self._guarded(councilor_slots_missed)
            if self.tick > 0:
                self._guarded(scheduler_tick, broker=broker)
            if time.monotonic() >= next_reap:
                self._guarded(executions_reap_lost)
                self._guarded(councilor_schedules_repair)
                self._guarded(queued_runs_look)
                self._guarded(run_incidents_check)
                self._guarded(task_results_prune)
                next_reap = time.monotonic() + self.reap_every
            time.sleep(self.tick if self.tick > 0 else min(self.reap_every, 1.0))
        close_old_connections()
        self.cluster.stop()

    def _stop(self, signum, frame) -> None:
        self.stopping = True

    @staticmethod
    def _guarded(step, **kwargs) -> None:
        try:
            step(**kwargs)
        except Exception:  # noqa: BLE001 - a failed pass (database restarting) is retried next tick
            logger.exception("%s failed; trying again next tick", step.__name__)
