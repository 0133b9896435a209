"""The worker's side of a cancel: one thread per worker process watches the rows of the runs in flight
there and stops a run whose cancel was asked for.

A cancel is asked for on whatever machine the user is (councilors.cancellation writes
`cancel_requested_at` on the run's row); the run is on some worker of some cluster. The database is
the one thing both always share, so each run in flight has its own row read every CANCEL_POLL_S,
the first CANCEL_POLL_S after the start (one indexed primary-key read for all the process's runs
due a look, on the watcher thread's own connection, opened by its first read and closed when no run
is left to watch: shorter runs make none). One thread for the process's life rather than one per
run: a worker runs thousands of trivial runs, and a thread's start, its database wrapper and its
join were a measurable part of each (docs/benchmarks.md). When the watcher sees the request it
copies who asked onto the run's record (the worker's finish writes them) and sets
`RunControl.stop`, which the runners watch: a command's whole process tree is killed, a request
dropped, a callable asked. A cancel therefore takes effect within CANCEL_POLL_S plus the runner's
own poll (0.1 s for a command), well inside the 2 s promised (docs/operations.md).
"""

import itertools
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import DatabaseError, connection

from councilors.models import Execution
from councilors.runners.base import RunControl

logger = logging.getLogger(__name__)

# How often a run's row is looked at: the cancel's delay, against one tiny query per run in flight.
CANCEL_POLL_S = 0.25
# The cancel's fields as columns (`cancelled_by_id`, not the user): the watcher reads the row's values.
CANCEL_COLUMNS = tuple(Execution._meta.get_field(name).attname for name in Execution.CANCEL_REQUEST_FIELDS)


@contextmanager
def cancel_watched(*, execution: Execution, control: RunControl) -> Iterator[None]:
    """While the body runs `execution`, the process's watcher sets `control.stop` as soon as a cancel is asked for.

    Once the body is over, the watcher touches neither the run's record nor its control again.
    """
    watcher = _process_watcher()
    key = watcher.add(execution, control)
    try:
        yield
    finally:
        watcher.remove(key)


@dataclass
class _Watched:
    execution: Execution
    control: RunControl
    next_look: float  # time.monotonic() of its next read


class _Watcher:
    """The runs in flight in one process, and the thread that reads their rows (see the module's doc)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._changed = threading.Condition()
        self._runs: dict[int, _Watched] = {}
        self._keys = itertools.count()
        self._thread = threading.Thread(target=self._watch_forever, name="cancel-watch", daemon=True)
        self._thread.start()

    def add(self, execution: Execution, control: RunControl) -> int:
        with self._changed:
            if not self._runs:  # the thread waits for a run without a timeout: wake it
                self._changed.notify()
            key = next(self._keys)
            self._runs[key] = _Watched(execution, control, time.monotonic() + CANCEL_POLL_S)
        return key

    def remove(self, key: int) -> None:
        # No wake-up: the thread finds the run gone at its next look (and closes its connection if it was the last).
        with self._changed:
            self._runs.pop(key, None)

    def _watch_forever(self) -> None:
        while True:
            due = self._wait_for_due()
            try:
                requested = _cancels_requested([watched.execution.pk for _key, watched in due])
            except DatabaseError as exc:  # the database restarting: the runs go on, the next look tries again
                logger.warning("cannot look for cancels of %d runs (%s)", len(due), exc)
                connection.close()
                requested = {}
            self._stop_requested(due, requested)

    def _wait_for_due(self) -> list[tuple[int, _Watched]]:
        """The runs due a look (with their keys), once there are any; with none to watch, the thread's
        connection is closed."""
        with self._changed:
            while True:
                if not self._runs:
                    connection.close()  # this thread's own connection: never left open without a run
                    self._changed.wait()
                    continue
                now = time.monotonic()
                due = [(key, watched) for key, watched in self._runs.items() if watched.next_look <= now]
                if due:
                    for _key, watched in due:
                        watched.next_look = now + CANCEL_POLL_S
                    return due
                self._changed.wait(min(watched.next_look for watched in self._runs.values()) - now)

    def _stop_requested(self, due: list[tuple[int, _Watched]], requested: dict[int, tuple]) -> None:
        """Stop the runs asked to stop that are still watched, with who asked copied onto their record."""
        with self._changed:
            for key, watched in due:
                row = requested.get(watched.execution.pk)
                if row is None or self._runs.get(key) is not watched:  # no cancel, or its run is over
                    continue
                for column, value in zip(CANCEL_COLUMNS, row, strict=True):
                    setattr(watched.execution, column, value)
                watched.control.stop.set()
                del self._runs[key]


def _cancels_requested(pks: list[int]) -> dict[int, tuple]:
    """The cancel's columns of those of these runs whose cancel is asked for, by primary key."""
    rows = Execution.objects.filter(pk__in=pks, cancel_requested_at__isnull=False).values_list("pk", *CANCEL_COLUMNS)
    return {row[0]: row[1:] for row in rows}


_creating = threading.Lock()
_watcher: _Watcher | None = None


def _process_watcher() -> _Watcher:
    """This process's watcher, started at its first run (a forked worker starts its own: threads do not fork)."""
    global _watcher
    with _creating:
        if _watcher is None or _watcher.pid != os.getpid():
            _watcher = _Watcher()
        return _watcher
