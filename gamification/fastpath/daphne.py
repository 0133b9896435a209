"""daphne's WebSocket stack reached into for speed: daphne, and the Twisted transport and autobahn
protocol it runs each connection on. All private access to them lives here (pinned in
requirements.txt: daphne, Twisted, autobahn); nothing else in the project touches it.

What the gateway relies on, and why:
- daphne hands the application `partial(server.handle_reply, protocol)` as `send`: the autobahn
  protocol inside it lets the outbox write frames itself and the consumer send a close reason
  (daphne's own `websocket.close` handler drops the reason);
- autobahn's `PreparedMessage.payloadHybi`: a frame built once per event for every client;
- Twisted's transport (`dataBuffer`, `offset`, the private `_tempDataLen`, `socket`): when it holds
  nothing unsent, a frame goes straight to the socket, skipping Twisted's buffer and two selector
  updates per frame per client (most of daphne's own cost per frame);
- autobahn's `failByDrop` / `closeHandshakeTimeout`: a documented close code instead of a dropped
  TCP connection, and time for a slow client to read its close frame;
- autobahn's module-level `pformat`, `hltype` and `hlval`: it formats every new connection's
  settings, and the reason of every lost connection (a Twisted traceback), for debug lines that
  are usually not written (about a tenth of a connection storm's CPU); `check()` makes them lazy.

`check()` proves at start-up that each of these is where this module expects it (on the classes,
and on a Twisted transport made for the purpose) and logs once which path the gateway takes; per
connection, `protocol_from_send` finds the protocol and checks on that real instance, and on its
transport, every attribute the write path touches (`PROTOCOL_ATTRIBUTES`, `TRANSPORT_ATTRIBUTES`:
instance attributes only exist there), or returns None. Then the outbox uses plain ASGI `send`,
correct but slower, and says so once in the log: a renamed attribute after an upgrade costs
speed, never a client (no write that raises, no 4500).
"""

import importlib
import logging
from collections.abc import Callable
from functools import cache, partial
from typing import Any

from infrastructure.fastpath.capability import Capability, logged

logger = logging.getLogger(__name__)

# How long daphne waits for a client to answer a close frame before it cuts the TCP connection
# (autobahn's default is 1 s). A client closed as too slow (4008) has a backlog of frames to read
# before it reaches the close frame; cutting the connection sooner discards the frame and its code.
CLOSE_HANDSHAKE_TIMEOUT_S = 5.0
FAST_PATH = "daphne"
SLOW_PATH = "asgi"
# Logged once per process by `check()` (the tests read daphne's log for them).
MSG_AVAILABLE = "WebSocket writes: daphne fast path available (%s)"
MSG_UNAVAILABLE = "WebSocket writes: daphne fast path unavailable, plain ASGI send (%s)"
MSG_CONNECTION_LOGGING = "WebSocket connections: autobahn's per-connection debug text %s"
MSG_INSTANCE_MISSING = "WebSocket writes: daphne fast path unavailable for connections, plain ASGI send (%s)"

# What the write path (DaphneSocket, send_close, configure_protocol) touches on one connection's
# autobahn protocol and on its Twisted transport: checked on each real instance before it is used.
PROTOCOL_ATTRIBUTES = ("state", "STATE_OPEN", "send_queue", "transport", "sendClose")
TRANSPORT_ATTRIBUTES = (
    "connected",
    "disconnecting",
    "offset",
    "dataBuffer",
    "_tempDataLen",
    "socket",
    "write",
    "producer",
    "registerProducer",
    "unregisterProducer",
)


def _probe() -> Capability:
    try:
        from autobahn.websocket.protocol import PreparedMessage
        from daphne.server import Server
        from daphne.ws_protocol import WebSocketProtocol
        from twisted.internet.abstract import FileDescriptor
    except ImportError as exc:
        return Capability(False, f"daphne's stack is not installed ({exc})")
    if not callable(getattr(Server, "handle_reply", None)):
        return Capability(False, "daphne.server.Server has no handle_reply to find the protocol by")
    if not isinstance(getattr(PreparedMessage(b"{}", False, False, True), "payloadHybi", None), bytes):
        return Capability(False, "autobahn's PreparedMessage has no payloadHybi frame")
    for name in ("sendClose", "STATE_OPEN", "registerProducer"):
        if not hasattr(WebSocketProtocol, name):
            return Capability(False, f"daphne's WebSocketProtocol (autobahn's) has no {name}")
    descriptor = FileDescriptor.__new__(FileDescriptor)
    FileDescriptor.__init__(descriptor)
    for name in ("dataBuffer", "offset", "_tempDataLen", "producer", "connected", "disconnecting"):
        if not hasattr(descriptor, name):
            return Capability(False, f"Twisted's transport has no {name}")
    return Capability(True, "daphne, Twisted and autobahn expose what the fast path writes through")


@cache
def check() -> Capability:
    """Whether the daphne fast path can be used in this process; logged once."""
    capability = logged(_probe(), logger, available=MSG_AVAILABLE, unavailable=MSG_UNAVAILABLE)
    logger.info(MSG_CONNECTION_LOGGING, _defer_connection_debug_text())
    return capability


class LazyText:
    """`formatter(*args)`, made only when a log line really formats it."""

    __slots__ = ("formatter", "args")

    def __init__(self, formatter: Callable[..., str], *args: Any) -> None:
        self.formatter = formatter
        self.args = args

    def __str__(self) -> str:
        return str(self.formatter(*self.args))

    __repr__ = __str__

    def __format__(self, spec: str) -> str:  # "{attrs}" in a log template
        return format(str(self), spec)


def _lazy(formatter: Callable[..., str]) -> Callable[..., LazyText]:
    def deferred(*args: Any) -> LazyText:
        return LazyText(formatter, *args)

    deferred.lazy_of = formatter  # type: ignore[attr-defined]
    return deferred


# The names autobahn's modules format per-connection debug lines with.
_DEBUG_FORMATTERS = {
    "autobahn.websocket.protocol": ("pformat", "hltype", "hlval"),
    "autobahn.twisted.websocket": ("hltype", "hlval"),
}


def _defer_connection_debug_text() -> str:
    """Make autobahn's per-connection debug formatting lazy; says what was done (for the start-up log)."""
    done = []
    for module_name, names in _DEBUG_FORMATTERS.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for name in names:
            current = module.__dict__.get(name)
            if current is None:
                continue
            if getattr(current, "lazy_of", None) is None:
                setattr(module, name, _lazy(current))
            done.append(f"{module_name}.{name}")
    return "deferred: " + ", ".join(done) if done else "not found; nothing to defer"


def missing_attribute(protocol: Any) -> str | None:
    """The first attribute the write path needs that this connection's protocol or transport lacks, or None."""
    for name in PROTOCOL_ATTRIBUTES:
        if not hasattr(protocol, name):
            return f"the protocol has no {name}"
    transport = protocol.transport
    for name in TRANSPORT_ATTRIBUTES:
        if not hasattr(transport, name):
            return f"its transport ({type(transport).__name__}) has no {name}"
    return None


def protocol_from_send(send: Any) -> Any | None:
    """daphne's autobahn protocol behind an ASGI `send`, or None (another server, or daphne changed).

    None also when that protocol or its transport lacks what the write path touches (logged once).
    """
    if isinstance(send, partial) and send.args and hasattr(send.args[0], "registerProducer"):
        if not check().available:
            return None
        protocol = send.args[0]
        missing = missing_attribute(protocol)
        if missing is not None:
            _warn_once_instance_missing(missing)
            return None
        return protocol
    if getattr(getattr(send, "func", None), "__qualname__", "") == "Server.handle_reply":
        _warn_once_protocol_not_found()
    return None


@cache
def _warn_once_instance_missing(missing: str) -> None:
    logger.warning(MSG_INSTANCE_MISSING, missing)


@cache
def _warn_once_protocol_not_found() -> None:
    logger.warning("WebSocket writes: running under daphne but its protocol was not found; plain ASGI send")


def configure_protocol(protocol: Any) -> None:
    """Close with a code instead of dropping TCP, and give a slow client time to read its close frame.

    autobahn "fails by drop" by default: a message over daphne's size limit (or invalid UTF-8) cuts
    the TCP connection, and the client sees 1006 with no reason. Close with the code instead (1009
    message too big, 1007 bad data), as a documented close.
    """
    protocol.failByDrop = False
    protocol.closeHandshakeTimeout = CLOSE_HANDSHAKE_TIMEOUT_S


def send_close(protocol: Any, *, code: int, reason: str) -> None:
    """Close with a code and a reason (daphne's `websocket.close` handler sends the code only)."""
    protocol.sendClose(code=code, reason=reason)


def prepare(text: str) -> Any:
    """One WebSocket text frame, built once for every client (autobahn's PreparedMessage)."""
    from autobahn.websocket.protocol import PreparedMessage

    return PreparedMessage(text.encode(), False, False, True)


class DaphneSocket:
    """The write side of one daphne WebSocket: flow control and frames written straight to the socket."""

    def __init__(self, protocol: Any) -> None:
        self.protocol = protocol

    def register_producer(self, producer: Any) -> None:
        """Register a Twisted push producer, chained to the one daphne's HTTP channel left there."""
        transport = self.protocol.transport
        previous = transport.producer  # daphne's HTTPChannel stays registered after the upgrade
        if previous is not None:
            transport.unregisterProducer()
        transport.registerProducer(_ChainedProducer(previous, producer) if previous is not None else producer, True)

    def write(self, prepared: Any) -> None:
        """Write one prepared frame, in order with everything written before it."""
        self._write_bytes(prepared.payloadHybi)

    def write_many(self, prepared: list[Any]) -> None:
        """Write several prepared frames with one socket write (a replay: one system call, not one per frame)."""
        self._write_bytes(b"".join(frame.payloadHybi for frame in prepared))

    def _write_bytes(self, data: bytes) -> None:
        protocol = self.protocol
        if protocol.state != protocol.STATE_OPEN:
            return
        transport = protocol.transport
        if not protocol.send_queue and _twisted_holds_nothing(transport):
            # Straight to the socket: Twisted's own write would buffer the frame, register the
            # socket for writability, send on the next loop turn and unregister it again — two
            # selector updates and a callback per frame per client.
            try:
                sent = transport.socket.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                return  # the connection broke; Twisted's reader notices and closes it
            if sent == len(data):
                return
            data = data[sent:]
        transport.write(data)  # the rest, in order, through Twisted (its producer pauses us when full)


def _twisted_holds_nothing(transport: Any) -> bool:
    """True when a Twisted TCP transport has nothing unsent, so a direct send keeps the order of bytes.

    `_tempDataLen` is Twisted's (private) second write buffer; without it the check says no.
    """
    return (
        transport.connected
        and not transport.disconnecting
        and transport.offset == len(transport.dataBuffer)
        and getattr(transport, "_tempDataLen", 1) == 0
    )


class _ChainedProducer:
    """Forwards Twisted's pause/resume to the producer that was registered before ours."""

    def __init__(self, first: Any, second: Any) -> None:
        self.first, self.second = first, second

    def pauseProducing(self) -> None:  # noqa: N802 - Twisted's IPushProducer
        self.first.pauseProducing()
        self.second.pauseProducing()

    def resumeProducing(self) -> None:  # noqa: N802
        self.first.resumeProducing()
        self.second.resumeProducing()

    def stopProducing(self) -> None:  # noqa: N802
        self.first.stopProducing()
        self.second.stopProducing()
