"""One object per running event loop: what a gateway process keeps for all its connections.

A gateway process runs one event loop; tests run many, one after another. Keyed weakly by the
loop, an instance goes away with its loop instead of leaking into the next test's.
"""

import asyncio
import weakref
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def loop_local(factory: Callable[[], T]) -> Callable[[], T]:
    """A function that returns the running loop's instance, made by `factory` on first use."""
    instances: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = weakref.WeakKeyDictionary()

    def instance() -> T:
        loop = asyncio.get_running_loop()
        found = instances.get(loop)
        if found is None:
            found = instances[loop] = factory()
        return found

    return instance
