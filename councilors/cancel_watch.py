"""The worker's side of a cancel: a thread beside each run that watches its row and stops the run.

A cancel is asked for on whatever machine the user is (councilors.cancellation writes
`cancel_requested_at` on the run's row); the run is on some worker of some cluster. The database is
the one thing both always share, so each run in flight has a small thread polling its own row every
CANCEL_POLL_S, the first CANCEL_POLL_S after the start (one indexed primary-key read, on a connection
of the thread's own, opened by its first read and closed when the run ends: a shorter run makes none).
When it sees the request it copies who asked onto the run's record (the worker's finish writes them)
and sets `RunControl.stop`, which the runners watch: a command's whole process tree is killed, a
request dropped, a callable asked. A cancel therefore takes effect within CANCEL_POLL_S plus the
runner's own poll (0.1 s for a command), well inside the 2 s promised (docs/operations.md).
"""

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DatabaseError, connection

from councilors.models import Execution
from councilors.runners.base import RunControl

logger = logging.getLogger(__name__)

# How often a run's row is looked at: the cancel's delay, against one tiny query per run in flight.
CANCEL_POLL_S = 0.25
# How long the end of a run waits for its watcher thread (it wakes at once when told to stop).
WATCHER_JOIN_S = 5.0
# The cancel's fields as columns (`cancelled_by_id`, not the user): the watcher reads the row's values.
CANCEL_COLUMNS = tuple(Execution._meta.get_field(name).attname for name in Execution.CANCEL_REQUEST_FIELDS)


@contextmanager
def cancel_watched(*, execution: Execution, control: RunControl) -> Iterator[None]:
    """While the body runs `execution`, a thread sets `control.stop` as soon as a cancel is asked for."""
    done = threading.Event()
    watcher = threading.Thread(
        target=_watch, args=(execution, control, done), name=f"cancel-watch-{execution.pk}", daemon=True
    )
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join(timeout=WATCHER_JOIN_S)


def _watch(execution: Execution, control: RunControl, done: threading.Event) -> None:
    try:
        # The first look after CANCEL_POLL_S, not at once: a run that ends sooner (most trivial ones)
        # costs no query and no connection, and a cancel still takes effect within CANCEL_POLL_S.
        while not done.wait(CANCEL_POLL_S):
            if _cancel_requested(execution):
                control.stop.set()
                return
    finally:
        connection.close()  # this thread's own connection: never left open behind a run


def _cancel_requested(execution: Execution) -> bool:
    """Whether a cancel is asked for; if so, who asked is copied onto `execution` (its finish records it)."""
    try:
        row = (
            Execution.objects.filter(pk=execution.pk, cancel_requested_at__isnull=False)
            .values_list(*CANCEL_COLUMNS)
            .first()
        )
    except DatabaseError as exc:  # the database restarting: the run goes on, the next poll tries again
        logger.warning("execution %s: cannot look for a cancel (%s)", execution.execution_id, exc)
        connection.close()
        return False
    if row is None:
        return False
    for column, value in zip(CANCEL_COLUMNS, row, strict=True):
        setattr(execution, column, value)
    return True
