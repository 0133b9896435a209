"""The gateway's own thread for the few database reads its connections need (users, sessions).

Not asgiref's `sync_to_async` (channels' `database_sync_to_async`): that machinery copies the
calling task's context into the thread and back, and shares one executor with everything else
thread-sensitive in the process. In connection storms of thousands of sockets on a busy event
loop, loads made through it were seen to stay pending with the executor idle, and every socket of
that user waited behind them until its handshake timed out. This thread does one thing: run a
read, with Django's connections of that thread closed afterwards, so nothing is held between
reads that come once per user per GAMIFICATION_ACCESS_TTL_S.
"""

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

from django.db import connections

T = TypeVar("T")

_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gateway-lookups")


def _read(function: Callable[[], T]) -> T:
    try:
        return function()
    finally:
        connections.close_all()  # this thread's only: Django's connections are per thread


async def read_in_lookup_thread(function: Callable[..., T], *args: object) -> T:
    """Run `function(*args)` (a database read) in the lookup thread; the event loop stays free."""
    return await asyncio.get_running_loop().run_in_executor(_thread, _read, partial(function, *args))
