"""daphne's reactor calls a socket's handler directly when it is ready, without Twisted's legacy log context.

Twisted's asyncio reactor, which daphne runs on, registers each socket with asyncio as
`callWithLogger(socket, reactor._readOrWrite, socket, read)`: every read and every write readiness
first asks the socket for its log prefix, copies the legacy logging context into a new dict with
that prefix as its `system`, and only then calls `_readOrWrite`. `_readOrWrite` already catches and
logs what a handler raises (through `twisted.logger`), and asyncio logs anything else; the context
only names the socket in the `system` field of legacy `twisted.python.log` lines, which daphne does
not write. In connect storms (an accept, the handshake's read and the close's read per
connection) the gateway spent 8–9 % less CPU per connection without it (docs/benchmarks.md).

`use_direct_callbacks()` swaps the name the reactor module calls for one that calls the handler
directly, after checking, in the source of the pinned Twisted (requirements.txt), that the reactor
registers sockets that way and that `_readOrWrite` catches a handler's exceptions itself. It logs
once which path is taken. It must run before daphne's server starts listening: the ASGI
application calls it at import (`gamification.fastpath.report`), which daphne does first.
"""

import inspect
import logging
from collections.abc import Callable
from functools import cache
from typing import Any

from infrastructure.fastpath.capability import Capability, logged

logger = logging.getLogger(__name__)

MSG_CALLBACKS = "Twisted's socket callbacks: %s"
DIRECT = "called directly (no legacy log context per read and write)"
# What the reactor's source must still say for the swap to mean what it meant when written.
_REGISTRATIONS = (
    "callWithLogger, reader, self._readOrWrite, reader, True",
    "callWithLogger, writer, self._readOrWrite, writer, False",
)
_HANDLER_CATCHES = "except Exception"


def call_directly(_selectable: Any, handler: Callable[..., Any], *args: Any) -> Any:
    """`callWithLogger`'s call, without the log prefix and context (see the module's docstring)."""
    return handler(*args)


def _probe() -> Capability:
    try:
        from twisted.internet import asyncioreactor
    except ImportError as exc:
        return Capability(False, f"Twisted's own ({exc})")
    reactor_class: Any = getattr(asyncioreactor, "AsyncioSelectorReactor", None)
    try:
        registrations = inspect.getsource(reactor_class.addReader) + inspect.getsource(reactor_class.addWriter)
        handler = inspect.getsource(reactor_class._readOrWrite)
    except (AttributeError, OSError, TypeError) as exc:
        return Capability(False, f"Twisted's own (its asyncio reactor is not inspectable: {exc!r})")
    missing = [text for text in _REGISTRATIONS if text not in registrations]
    if missing or _HANDLER_CATCHES not in handler or not callable(getattr(asyncioreactor, "callWithLogger", None)):
        return Capability(False, "Twisted's own (its asyncio reactor does not register sockets as expected)")
    return Capability(True, DIRECT)


@cache
def use_direct_callbacks() -> str:
    """Make the asyncio reactor call socket handlers directly; says what was done (logged once)."""
    capability = logged(_probe(), logger, available=MSG_CALLBACKS, unavailable=MSG_CALLBACKS)
    if capability.available:
        from twisted.internet import asyncioreactor

        asyncioreactor.callWithLogger = call_directly
    return capability.reason
