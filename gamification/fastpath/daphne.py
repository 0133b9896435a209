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
- daphne's WebSocket factory builds `GatewayWebSocketProtocol` (its subclass of daphne's protocol):
  autobahn's own writes (handshake answer, close frames, pings) through `write_through` as well,
  the handshake answer held until the connection's first frame (one write for both),
  one shared ping frame per second, and a pong answering the pending ping matched without
  autobahn's frame parser (an idle gateway of 5,000 sockets spent most of its CPU on pings);
- daphne's application checker (`Server.application_checker`, every second) visits only the
  connections that disconnected or whose application ended (`CheckerView`), not every open one;
- autobahn's module-level `pformat`, `hltype` and `hlval`: it formats every new connection's
  settings, and the reason of every lost connection (a Twisted traceback), for debug lines that
  are usually not written (about a tenth of a connection storm's CPU); `check()` makes them lazy.

- per idle connection (docs/benchmarks.md, "The gateway against its floor"): daphne's application
  queue is an `asyncio.Queue` (three deques and an event, about 3.4 KB, for one message now and
  then); `check()` gives daphne's server a light queue instead (`LightQueue`). After the opening
  handshake `compact_protocol` drops what only the handshake reads from the autobahn protocol (the
  request's text, headers and parameters; daphne keeps the request's path for its log lines), and
  moves the values every connection of the factory shares (its options, which autobahn copies onto
  each protocol, and unchanged flags) to a per-class default: a 100-entry instance dict becomes one
  of about 30. autobahn's empty `send_queue` deque becomes an empty list with `popleft`. daphne's
  HTTP channel, left registered as the transport's producer after the upgrade but idle there, is
  replaced by the outbox (`DaphneSocket.register_producer`), which frees it and its request.
- per closed connection: autobahn resolves `is_closed` with the protocol itself, a cycle that left
  the whole connection to the garbage collector; `release_protocol` drops the resolved futures.

`check()` proves at start-up that each of these is where this module expects it (on the classes,
and on a Twisted transport made for the purpose) and logs once which path the gateway takes; per
connection, `protocol_from_send` finds the protocol and checks on that real instance, and on its
transport, every attribute the write path touches (`PROTOCOL_ATTRIBUTES`, `TRANSPORT_ATTRIBUTES`:
instance attributes only exist there), or returns None. Then the outbox uses plain ASGI `send`,
correct but slower, and says so once in the log: a renamed attribute after an upgrade costs
speed, never a client (no write that raises, no 4500).
"""

import asyncio
import importlib
import inspect
import logging
import struct
import time
import types
from collections import deque
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
MSG_QUEUE = "daphne's application queues: %s"
QUEUE_LIGHT = "light (one slot object per connection)"
MSG_COMPACT = "daphne's WebSocket protocols after the handshake: %s"
COMPACT_ON = "compacted (handshake leftovers dropped, shared values moved to the class)"
MSG_PROTOCOL = "daphne's WebSocket protocol: %s"
MSG_CHECKER = "daphne's application checker: %s"
CHECKER_CANDIDATES = "visits the connections that disconnected or whose application ended"
MSG_PROTOCOL_MISSING = "daphne's WebSocket protocol: autobahn's own writes and pings for connections (%s)"
PROTOCOL_GATEWAY = "the gateway's (autobahn's writes straight to the socket, one ping frame per second for all)"

# What autobahn's protocol keeps from the opening handshake and reads only during it
# (`processHandshake`, `succeedHandshake`): dropped once the connection is open.
HANDSHAKE_LEFTOVERS = (
    "http_headers",
    "http_request_data",
    "http_status_line",
    "http_request_uri",
    "http_request_params",
    "http_request_path",
    "http_request_host",
    "http_response_data",
    "_wskey",
)
# Besides the factory's options (CONFIG_ATTRS), the flags and counters whose value many connections
# share can move to a class default: only where an instance holds that very object (identity), so
# reading the attribute gives what the instance held. No strings: those are the connection's own.
_SHAREABLE = (type(None), bool, int)

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
    logger.info(MSG_QUEUE, _use_light_queues())
    logger.info(MSG_COMPACT, _compaction_check())
    logger.info(MSG_PROTOCOL, _use_gateway_protocol() if capability.available else "daphne's own")
    logger.info(MSG_CHECKER, _use_candidate_checker())
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
    return missing_transport_attribute(protocol.transport)


def missing_transport_attribute(transport: Any) -> str | None:
    """The first attribute the write path needs that this Twisted transport lacks, or None."""
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

    __slots__ = ("protocol",)

    def __init__(self, protocol: Any) -> None:
        self.protocol = protocol

    def register_producer(self, producer: Any) -> None:
        """Register a Twisted push producer in place of the HTTP channel daphne's upgrade left there.

        The channel stays registered after the upgrade, but then does nothing: its request is
        never finished (`_handlingRequest` stays true, so it never pauses the transport) and it has
        no request producer to pass pause, resume or stop on to. Replaced, it and its request (the
        handshake's headers, arguments and body, a few KB) are freed. Any other producer is chained.
        """
        transport = self.protocol.transport
        previous = transport.producer
        if previous is not None:
            transport.unregisterProducer()
            if _idle_http_channel(previous):
                previous.requests.clear()  # the only reference to its request: freed now, not by a later GC pass
                previous = None
        transport.registerProducer(_ChainedProducer(previous, producer) if previous is not None else producer, True)

    def write(self, prepared: Any) -> None:
        """Write one prepared frame, in order with everything written before it."""
        # `_write_bytes`, written out: the fan-out calls this once per frame per client.
        protocol = self.protocol
        if protocol.state != protocol.STATE_OPEN:
            return
        if protocol.send_queue:
            protocol.transport.write(prepared.payloadHybi)
            return
        if getattr(protocol, "held", None) is not None:  # the handshake's answer goes first, in the same write
            protocol.release_held(prepared.payloadHybi)
            return
        write_through(protocol.transport, prepared.payloadHybi)

    def write_many(self, prepared: list[Any]) -> None:
        """Write several prepared frames with one socket write (a replay: one system call, not one per frame)."""
        self._write_bytes(b"".join(frame.payloadHybi for frame in prepared))

    def _write_bytes(self, data: bytes) -> None:
        protocol = self.protocol
        if protocol.state != protocol.STATE_OPEN:
            return
        if protocol.send_queue:  # autobahn's own queue (a fragmented send) goes first, through Twisted
            protocol.transport.write(data)
            return
        if getattr(protocol, "held", None) is not None:
            protocol.release_held(data)
            return
        write_through(protocol.transport, data)


def write_through(transport: Any, data: bytes) -> None:
    """Write to a Twisted TCP transport: straight to the socket when Twisted holds nothing unsent.

    Twisted's own write buffers the bytes, registers the socket for writability, sends on the next
    loop turn and unregisters it again: two selector updates and a callback per write. What the
    socket does not take at once (or everything, when Twisted already holds bytes) goes through
    Twisted, in order; its producer pauses the writer when the buffer is full.

    Twisted holds nothing when its two buffers are empty: `dataBuffer` sent up to `offset`, and the
    private `_tempDataLen` (checked on each transport before its first write, TRANSPORT_ATTRIBUTES).
    The check is written out here, not in a helper: this runs once per frame per client.
    """
    if (
        transport.connected
        and not transport.disconnecting
        and transport.offset == len(transport.dataBuffer)
        and transport._tempDataLen == 0
    ):
        try:
            sent = transport.socket.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            return  # the connection broke; Twisted's reader notices and closes it
        if sent == len(data):
            return
        data = data[sent:]
    transport.write(data)


@cache
def _http_channel_class() -> type | None:
    try:
        from twisted.web.http import HTTPChannel
    except ImportError:
        return None
    return HTTPChannel


def _idle_http_channel(producer: Any) -> bool:
    """True for daphne's HTTP channel after a WebSocket upgrade (see `DaphneSocket.register_producer`)."""
    channel_class = _http_channel_class()
    return (
        channel_class is not None
        and isinstance(producer, channel_class)
        and getattr(producer, "_handlingRequest", False) is True
        and getattr(producer, "_requestProducer", True) is None
        and isinstance(getattr(producer, "requests", None), list)
    )


class _ChainedProducer:
    """Forwards Twisted's pause/resume to the producer that was registered before ours."""

    __slots__ = ("first", "second")

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


# autobahn's own writes and pings ------------------------------------------------------------------

# autobahn's automatic ping payload: the time it was sent (ns) and a sequence number, no random bytes
# at its default size (daphne sets no other); onAutoPong reads both back for its debug line.
AUTOPING_SIZE = 12
_PING = struct.Struct(">QL")
_PING_HEADER = bytes((0x89, AUTOPING_SIZE))  # FIN, opcode 9 (ping), unmasked, 12 bytes of payload
# The client's answer: FIN and opcode 10 (pong), masked (every client frame is), the same 12 bytes.
PONG_FIRST_BYTE = 0x8A
PONG_SECOND_BYTE = 0x80 | AUTOPING_SIZE
PONG_FRAME_LENGTH = 2 + 4 + AUTOPING_SIZE


class SharedPing:
    """One ping payload and its ready frame per second, for every connection daphne pings in it."""

    __slots__ = ("second", "sequence", "sent_ns", "payload", "frame")

    def __init__(self, second: int, sequence: int) -> None:
        self.second = second
        self.sequence = sequence
        self.sent_ns = time.time_ns()
        self.payload = _PING.pack(self.sent_ns, sequence)
        self.frame = _PING_HEADER + self.payload


_shared_ping = SharedPing(-1, 0)


def shared_ping() -> SharedPing:
    """This second's ping (daphne's timeout checker pings a few thousand connections in one pass)."""
    global _shared_ping
    second = int(time.monotonic())
    if _shared_ping.second != second:
        _shared_ping = SharedPing(second, (_shared_ping.sequence + 1) % 2**32)
    return _shared_ping


@cache
def _gateway_protocol_class() -> type | None:
    """daphne's WebSocketProtocol with cheaper writes and pings (see `_use_gateway_protocol`); None without daphne."""
    try:
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError:
        return None

    class GatewayWebSocketProtocol(WebSocketProtocol):
        """daphne's protocol; autobahn's writes go straight to the socket, its pings share one frame."""

        # Whether this connection and its transport have what `sendData` touches (checked on the
        # first write, on the real instances: a TLS transport, for one, does not), and what the
        # pings and pongs touch (checked on the first ping or pong, once the connection is open).
        direct_writes: bool | None = None
        direct_pings: bool | None = None
        # The handshake's answer (the 101), held back from `serverAccept` until the connection's
        # first frame (the `connected` the consumer writes next) or the loop's next turn, whichever
        # comes first: one socket write and one TCP segment instead of two. None: nothing held.
        held: bytes | None = None

        def serverAccept(self, subprotocol: str | None = None) -> None:  # noqa: N802
            """daphne's accept, the answer it writes held in `held` for the loop's current turn."""
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # not from the application's `send`: written at once
                loop = None
            if loop is None or not self._writes_directly():
                WebSocketProtocol.serverAccept(self, subprotocol)
                return
            self.held = b""
            try:
                WebSocketProtocol.serverAccept(self, subprotocol)
            finally:
                if self.held:
                    loop.call_soon(self.release_held)
                else:  # nothing was written (autobahn refused the handshake meanwhile)
                    del self.held

        def release_held(self, data: bytes = b"") -> None:
            """Write what is held, followed by `data`, and hold nothing more."""
            held = self.held
            if held is not None:
                del self.held  # back to the class's None: no entry left in the instance's dict
                data = held + data
            if data:
                write_through(self.transport, data)

        def sendData(self, data: bytes, sync: bool = False, chopsize: int | None = None) -> None:  # noqa: N802
            """autobahn's `sendData`, its unchopped, unqueued case written through `write_through`."""
            if sync or chopsize or not self._writes_directly() or self.send_queue:
                if self.held is not None:
                    self.release_held()
                WebSocketProtocol.sendData(self, data, sync, chopsize)
                return
            state = self.state
            if state == self.STATE_OPEN:
                self.trafficStats.outgoingOctetsWireLevel += len(data)
            elif state == self.STATE_CONNECTING or state == self.STATE_PROXY_CONNECTING:
                self.trafficStats.preopenOutgoingOctetsWireLevel += len(data)
            if self.logOctets:
                self.logTxOctets(data, False)
            if self.held is None:
                write_through(self.transport, data)
            elif state == self.STATE_CONNECTING:  # the handshake's answer, written by `serverAccept`
                self.held += data
            else:
                self.release_held(data)

        def _writes_directly(self) -> bool:
            if self.direct_writes is None:
                missing = missing_gateway_protocol_attribute(self, WRITE_INSTANCE_ATTRIBUTES)
                if missing is not None:
                    _warn_once_protocol_missing(missing)
                self.direct_writes = missing is None
            return self.direct_writes

        def _pings_directly(self) -> bool:
            if self.direct_pings is None:
                missing = missing_gateway_protocol_attribute(self, PING_INSTANCE_ATTRIBUTES)
                if missing is not None:
                    _warn_once_protocol_missing(missing)
                self.direct_pings = missing is None
            return self.direct_pings and self._writes_directly()

        def _sendAutoPing(self) -> None:  # noqa: N802
            """autobahn's automatic ping (daphne's timeout checker calls it), with this second's shared frame.

            The same payload autobahn makes (time sent, a sequence number; the number counts the
            seconds with pings, not one connection's pings), so the pong matches it as before.
            """
            if not self._pings_directly() or self.autoPingSize != AUTOPING_SIZE:
                WebSocketProtocol._sendAutoPing(self)
                return
            ping = shared_ping()
            self.autoPingPendingCall = None
            self.autoPingPendingSent = ping.sent_ns
            self.autoPingPendingSeq += 1
            self.autoPingPending = ping.payload
            if self.state == self.STATE_OPEN:
                self.sendData(ping.frame)
            if self.autoPingTimeout:
                self.autoPingTimeoutCall = self.factory._batched_timer.call_later(
                    self.autoPingTimeout, self.onAutoPingTimeout
                )

        def _dataReceived(self, data: bytes) -> None:  # noqa: N802
            """autobahn's, with a shortcut for the common read of an idle connection: the pong to its ping.

            Whole and alone in the read (18 bytes: header, mask, the 12-byte payload), between two
            frames, answering the pending automatic ping: what autobahn's frame parser would do
            with it, without the parser (a masker, a frame header, four callbacks per pong).
            """
            if (
                len(data) == PONG_FRAME_LENGTH
                and data[0] == PONG_FIRST_BYTE
                and data[1] == PONG_SECOND_BYTE
                and self._pings_directly()
                and self.state == self.STATE_OPEN
                and self.current_frame is None
                and not self.data
                and self.applyMask
                and not self.logOctets
                and not self.logFrames
            ):
                payload = _unmask(data[2:6], data[6:])
                if payload == self.autoPingPending:
                    self.trafficStats.incomingOctetsWireLevel += PONG_FRAME_LENGTH
                    self._auto_pong(payload)
                    return
            WebSocketProtocol._dataReceived(self, data)

        def _auto_pong(self, payload: bytes) -> None:
            """autobahn's `processControlFrame` for a pong that answers the pending automatic ping."""
            ping_sent, ping_seq = _PING.unpack(payload)
            pong_received = time.time_ns()
            self.onAutoPong(ping_sent, ping_seq, pong_received, int((pong_received - ping_sent) / 10**6), payload)
            if self.autoPingTimeoutCall:
                self.autoPingTimeoutCall.cancel()
            self.autoPingPending = None  # type: ignore[assignment]  # as autobahn does (annotated bytes)
            self.autoPingPendingSent = None  # type: ignore[assignment]
            self.autoPingTimeoutCall = None
            if self.autoPingInterval:
                self.autoPingPendingCall = self.factory._batched_timer.call_later(
                    self.autoPingInterval, self._sendAutoPing
                )
            self._onPong(payload)

    return GatewayWebSocketProtocol


def _unmask(mask: bytes, payload: bytes) -> bytes:
    """A client frame's payload unmasked (RFC 6455, 5.3): each byte XOR the mask's, in turn."""
    length = len(payload)
    key = (mask * (length // 4 + 1))[:length]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(length, "big")


# What the gateway's protocol reads or replaces of autobahn's (checked at start-up on the class).
GATEWAY_PROTOCOL_ATTRIBUTES = (
    "sendData",
    "_sendAutoPing",
    "_dataReceived",
    "onAutoPingTimeout",
    "onAutoPong",
    "_onPong",
    "logTxOctets",
    "STATE_OPEN",
    "STATE_CONNECTING",
    "STATE_PROXY_CONNECTING",
)
# ... and on a connection: what `sendData` touches (checked at its first write, during the handshake) ...
WRITE_INSTANCE_ATTRIBUTES = ("send_queue", "trafficStats", "logOctets")
# ... and what the pings and pongs do: autobahn's automatic ping state, its frame parser's (checked
# at the first ping or pong, when the connection is open).
PING_INSTANCE_ATTRIBUTES = (
    "autoPingSize",
    "autoPingTimeout",
    "autoPingPendingSeq",
    "autoPingPending",
    "autoPingTimeoutCall",
    "autoPingInterval",
    "current_frame",
    "data",
    "applyMask",
    "logFrames",
    "factory",
)


def missing_gateway_protocol_attribute(protocol: Any, names: tuple[str, ...]) -> str | None:
    """The first of `names`, or of what `write_through` needs of the transport, this connection lacks; or None."""
    for name in names:
        if not hasattr(protocol, name):
            return f"the protocol has no {name}"
    return missing_transport_attribute(protocol.transport)


@cache
def _warn_once_protocol_missing(missing: str) -> None:
    logger.warning(MSG_PROTOCOL_MISSING, missing)


def _use_gateway_protocol() -> str:
    """Make daphne's WebSocket factory build `GatewayWebSocketProtocol`; says what was done (for the log)."""
    try:
        from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol
    except ImportError as exc:
        return f"daphne's own ({exc})"
    gateway_class = _gateway_protocol_class()
    if WebSocketFactory.protocol is gateway_class:
        return PROTOCOL_GATEWAY
    if WebSocketFactory.protocol is not WebSocketProtocol:
        return f"daphne's own (its factory builds {WebSocketFactory.protocol.__qualname__})"
    for name in GATEWAY_PROTOCOL_ATTRIBUTES:
        if not hasattr(WebSocketProtocol, name):
            return f"daphne's own (autobahn's protocol has no {name})"
    WebSocketFactory.protocol = gateway_class
    return PROTOCOL_GATEWAY


# daphne's application checker ---------------------------------------------------------------------


class CheckerView:
    """daphne's connections as its application checker sees them: only those with something to do.

    The checker runs every second over every connection, to reap applications that ended and to
    cancel those that outlive their socket by more than `application_close_timeout`; for an open
    connection whose application runs (all but a few) it does nothing. Here it visits the
    connections that disconnected or whose application ended (`_track_*` collect them); every
    read and deletion goes to daphne's own dict.
    """

    __slots__ = ("connections", "candidates")

    def __init__(self, connections: dict[Any, dict[str, Any]], candidates: set[Any]) -> None:
        self.connections = connections
        self.candidates = candidates

    def items(self) -> list[tuple[Any, dict[str, Any]]]:
        connections = self.connections
        return [(protocol, connections[protocol]) for protocol in self.candidates if protocol in connections]

    def __getitem__(self, protocol: Any) -> dict[str, Any]:
        return self.connections[protocol]

    def __delitem__(self, protocol: Any) -> None:
        del self.connections[protocol]


def _candidates(server: Any) -> set[Any]:
    candidates: set[Any] | None = server.__dict__.get("gateway_checker_candidates")
    if candidates is None:
        candidates = server.gateway_checker_candidates = set()
    return candidates


# What daphne's checker is expected to do with its connections (its source is read at start-up).
_CHECKER_SOURCE = ("self.connections.items()", "del self.connections[protocol]", "application_close_timeout")


def _use_candidate_checker() -> str:
    """Make daphne's application checker visit only the connections with something to do; says what was done."""
    try:
        server_module = importlib.import_module("daphne.server")
        server_class = server_module.Server
        source = inspect.getsource(server_class.application_checker)
    except (ImportError, AttributeError, OSError, TypeError) as exc:
        return f"daphne's (not inspectable: {exc!r})"
    if getattr(server_class.application_checker, "gateway_checker", False):
        return CHECKER_CANDIDATES
    if not all(text in source for text in _CHECKER_SOURCE) or not all(
        callable(getattr(server_class, name, None)) for name in ("protocol_disconnected", "create_application")
    ):
        return "daphne's (its application checker is not as expected)"
    check_all = server_class.application_checker
    disconnected = server_class.protocol_disconnected
    create = server_class.create_application

    def protocol_disconnected(self: Any, protocol: Any) -> None:
        disconnected(self, protocol)
        _candidates(self).add(protocol)

    def create_application(self: Any, protocol: Any, scope: dict[str, Any]) -> Any:
        queue = create(self, protocol, scope)
        future = self.connections.get(protocol, {}).get("application_instance")
        if future is not None:
            future.add_done_callback(partial(_application_ended, _candidates(self), protocol))
        return queue

    def application_checker(self: Any) -> None:
        candidates = _candidates(self)
        connections = self.connections
        self.connections = CheckerView(connections, candidates)
        try:
            check_all(self)
        finally:
            self.connections = connections
            for protocol in [protocol for protocol in candidates if _nothing_left_to_check(connections, protocol)]:
                candidates.discard(protocol)

    application_checker.gateway_checker = True  # type: ignore[attr-defined]
    server_class.protocol_disconnected = protocol_disconnected
    server_class.create_application = create_application
    server_class.application_checker = application_checker
    return CHECKER_CANDIDATES


def _application_ended(candidates: set[Any], protocol: Any, future: Any) -> None:
    candidates.add(protocol)


def _nothing_left_to_check(connections: dict[Any, dict[str, Any]], protocol: Any) -> bool:
    """Gone from daphne's connections, or open with its ended application reaped."""
    details = connections.get(protocol)
    return details is None or ("disconnected" not in details and "application_instance" not in details)


# Idle memory per connection ------------------------------------------------------------------------


class LightQueue:
    """What daphne uses of `asyncio.Queue` (`put_nowait`, `get`), holding nothing while empty.

    daphne makes one queue per connection and puts a message in it now and then (connect, each
    message from the client, disconnect); asyncio's keeps three deques and an event (about 3.4 KB)
    for the connection's life. Here the items and the waiting getters exist only while there are
    some; `get` follows asyncio's own (a cancelled getter hands a wake-up on).
    """

    __slots__ = ("_items", "_getters")

    def __init__(self) -> None:
        self._items: deque[Any] | None = None
        self._getters: list[asyncio.Future[None]] | None = None

    def qsize(self) -> int:
        return len(self._items) if self._items else 0

    def empty(self) -> bool:
        return not self._items

    def put_nowait(self, item: Any) -> None:
        if self._items is None:
            self._items = deque()
        self._items.append(item)
        self._wake_next()

    def get_nowait(self) -> Any:
        if not self._items:
            raise asyncio.QueueEmpty
        item = self._items.popleft()
        if not self._items:
            self._items = None
        return item

    async def get(self) -> Any:
        while not self._items:
            getter = asyncio.get_running_loop().create_future()
            if self._getters is None:
                self._getters = []
            self._getters.append(getter)
            try:
                await getter
            except BaseException:
                getter.cancel()
                self._forget(getter)
                if self._items and not getter.cancelled():
                    self._wake_next()
                raise
        return self.get_nowait()

    def _forget(self, getter: asyncio.Future[None]) -> None:
        if self._getters is not None and getter in self._getters:
            self._getters.remove(getter)
        if not self._getters:
            self._getters = None

    def _wake_next(self) -> None:
        while self._getters:
            getter = self._getters.pop(0)
            if not self._getters:
                self._getters = None
            if not getter.done():
                getter.set_result(None)
                return


class _AsyncioWithLightQueue(types.ModuleType):
    """`asyncio` as daphne's server module sees it: the same, but `Queue` is `LightQueue`."""

    Queue = LightQueue

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)


def _use_light_queues() -> str:
    """Give daphne's server `LightQueue` for its application queues; says what was done (for the log)."""
    try:
        server = importlib.import_module("daphne.server")
        source = inspect.getsource(server.Server.create_application)
    except (ImportError, AttributeError, OSError, TypeError) as exc:
        return f"asyncio's (daphne's server not inspectable: {exc!r})"
    current = server.__dict__.get("asyncio")
    if isinstance(current, _AsyncioWithLightQueue):
        return QUEUE_LIGHT
    if current is not asyncio or "asyncio.Queue()" not in source or "receive=input_queue.get" not in source:
        return "asyncio's (daphne's create_application does not make them as expected)"
    server.asyncio = _AsyncioWithLightQueue("asyncio")  # type: ignore[attr-defined]
    return QUEUE_LIGHT


class HandshakePath:
    """What daphne reads of autobahn's ConnectionRequest once the connection is open: its path (log lines)."""

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path


class SendQueue(list[Any]):
    """autobahn's `send_queue` (it appends, pops from the left and asks the length): an empty list is
    56 bytes where an empty deque is 760; it only ever holds frames while a fragmented send runs."""

    __slots__ = ()

    def popleft(self) -> Any:
        return self.pop(0)


# Per protocol class: a subclass whose class attributes are the shared values (see `compact_protocol`),
# and per such subclass the values its instances drop.
_compact_subclasses: dict[type, type] = {}
_compact_classes: dict[type, dict[str, Any]] = {}


@cache
def _compaction_check() -> str:
    try:
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError as exc:
        return f"left as they are ({exc})"
    if not isinstance(getattr(WebSocketProtocol, "CONFIG_ATTRS", None), list | tuple):
        return "left as they are (autobahn's protocol has no CONFIG_ATTRS)"
    return COMPACT_ON


def compact_protocol(protocol: Any) -> None:
    """Shrink an open connection's autobahn protocol (see the module's docstring); a no-op otherwise."""
    if _compaction_check() != COMPACT_ON or protocol.state != protocol.STATE_OPEN:
        return
    attrs = protocol.__dict__
    for name in HANDSHAKE_LEFTOVERS:
        attrs.pop(name, None)
    request = attrs.get("request")
    if request is not None and not isinstance(request, HandshakePath):
        attrs["request"] = HandshakePath(request.path)
    queue = attrs.get("send_queue")
    if isinstance(queue, deque) and not queue:
        attrs["send_queue"] = SendQueue()
    compact_class, shared = _compact_class(type(protocol), protocol)
    protocol.__class__ = compact_class
    # A new dict: one that had 100 entries keeps its size when entries are deleted.
    protocol.__dict__ = {name: value for name, value in attrs.items() if shared.get(name, _MISSING) is not value}


_MISSING = object()

# autobahn's futures of the connection's opening and closing: resolved by then, `is_closed` with
# the protocol itself (nothing in daphne waits on either).
RESOLVED_FUTURES = ("is_open", "is_closed")


def release_protocol(protocol: Any) -> None:
    """Once daphne has said the socket is gone: break autobahn's cycle through `is_closed`.

    Resolved with the protocol itself, it makes the protocol, its transport and everything of the
    connection they hold cyclic garbage, freed only by a pass of the collector (which a connection
    storm then pays for, object by object); without it, reference counting frees them at once.
    """
    if getattr(protocol, "state", None) != getattr(protocol, "STATE_CLOSED", _MISSING):
        return
    attrs = protocol.__dict__
    for name in RESOLVED_FUTURES:
        future = attrs.get(name)
        if future is not None and getattr(future, "called", False):
            del attrs[name]


def _compact_class(cls: type, protocol: Any) -> tuple[type, dict[str, Any]]:
    """The compact subclass of `cls`, and the values its instances need not hold (its class attributes)."""
    if cls in _compact_classes:
        return cls, _compact_classes[cls]
    compact = _compact_subclasses.get(cls)
    if compact is None:
        shared_names = set(cls.CONFIG_ATTRS)  # type: ignore[attr-defined]
        defaults = {
            name: value
            for name, value in protocol.__dict__.items()
            if (name in shared_names or type(value) in _SHAREABLE) and getattr(cls, name, _MISSING) is not value
        }
        names = {"__module__": cls.__module__, "__qualname__": cls.__qualname__}
        compact = _compact_subclasses[cls] = type(cls.__name__, (cls,), {**names, **defaults})
        # Every attribute name the instance has that the class answers too (its new defaults and
        # the class constants), with the class's value: looked up once, not per connection.
        _compact_classes[compact] = {
            name: getattr(compact, name)
            for name in protocol.__dict__
            if getattr(compact, name, _MISSING) is not _MISSING
        }
    return compact, _compact_classes[compact]
