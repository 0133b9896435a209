"""daphne's WebSocket upgrade without its HTTP request: the handshake parsed once, by autobahn.

Stock daphne reads a WebSocket upgrade twice: Twisted's HTTP channel parses the request head line
by line into a `Request`, daphne's `WebRequest.process` (an inlineCallbacks generator) checks it,
builds the WebSocket protocol, rebuilds the head's bytes from the parsed headers and replays them
into autobahn, which parses the handshake again. That was about half of a connection's CPU in a
connection storm (docs/benchmarks.md).

Here a protocol in front of daphne's HTTP channel (`UpgradeFront`, built by daphne's
`HTTPFactory.buildProtocol`) looks at the connection's first read. When it is one whole, plainly
written WebSocket upgrade (`plain_upgrade`: a `GET … HTTP/1.1` head of at most 16 KB with nothing
after it, every header `Name: value` once, no body headers) that passes the checks
`WebRequest.process` applies, the bytes go straight to a protocol from daphne's WebSocket factory,
as daphne itself would hand them on: for such a head, daphne's rebuilt bytes and the received ones
differ only in the case of header names, which autobahn lowercases. Anything else (a partial
head, another method, a duplicate header, odd whitespace or bytes, a TLS transport) is replayed
into daphne's own HTTP channel, so every error answer stays daphne's, Twisted's or autobahn's.

daphne's HTTP channel is built only for a connection that takes its path: on a TCP transport the
front waits for the first read with nothing of daphne's built. A connection that sends nothing is
closed as that channel would close it, by the channel's own idle timeout (`FirstReadDeadlines`:
one shared timer for every waiting connection, not one per socket; it fires up to a second late).
Building, connecting and then releasing a channel per upgrade (an object graph, an idle timer set
and cancelled, a producer registered and unregistered) cost a few hundredths of a connection's
CPU in a connect storm (docs/benchmarks.md). On any other transport (TLS) the channel is built and
connected at once, as daphne does. autobahn's opening-handshake timeout starts when the WebSocket
protocol is connected, as before.

What it relies on (pinned in requirements.txt: daphne, Twisted): daphne's `HTTPFactory` (its
`buildProtocol`, its `server`), the server's `ws_factory` and proxy header settings, daphne's
`HEADER_NAME_RE`, `INVALID_HEADER_VALUE_BYTES` and `parse_x_forwarded_for`, the protocol's
`_raw_query_string`, its HTTP factory's `reactor`, `timeOut` and the channel it builds (Twisted's
generic proxy around an `HTTPChannel`, with its `timeoutConnection`), and Twisted's TCP transport
(its `protocol`). `use_upgrade_front()` checks them at start-up and logs once which path is taken;
a connection on another transport takes daphne's own path.
"""

import inspect
import logging
import re
from collections.abc import Callable
from functools import cache
from typing import Any

logger = logging.getLogger(__name__)

MSG_UPGRADE = "daphne's WebSocket upgrades: %s"
UPGRADE_FRONT = "a plain upgrade handed straight to autobahn (daphne's HTTP request skipped)"
# Twisted's HTTP channel allows 16 KB for the request line and headers together (totalHeadersSize);
# a longer head, or more headers than a browser sends, goes to daphne's own path.
MAX_HEAD_BYTES = 16384
MAX_HEADERS = 64
HEAD_END = b"\r\n\r\n"
# The request target as Twisted and daphne accept it and both parts stay ASCII: printable, no space.
_TARGET = re.compile(rb"/[\x21-\x7e]*")
# Bytes no header value may hold: Twisted refuses NUL, CR and LF; daphne the ones in its set.
_BAD_VALUE_BYTES = frozenset(b"\x00\r\n")
# Headers that give a request a body: Twisted waits for it (or refuses the header) before daphne sees it.
_BODY_HEADERS = frozenset((b"content-length", b"transfer-encoding"))
_OWS = b" \t"

# What the front calls on daphne's server, its WebSocket factory and a Twisted TCP transport.
SERVER_ATTRIBUTES = (
    "ws_factory",
    "proxy_forwarded_address_header",
    "proxy_forwarded_port_header",
    "proxy_forwarded_proto_header",
)
# (Its `protocol` is an instance attribute: the front checks it on each connection's transport.)
TRANSPORT_ATTRIBUTES = ("getPeer",)
# What the front reads of daphne's HTTP factory: when to close a connection that sends nothing.
FACTORY_ATTRIBUTES = ("reactor", "timeOut")
# How often the connections still waiting for their first read are looked at.
FIRST_READ_SWEEP_S = 1.0
# What daphne's `process` must still do for the front to do the same (its source is read at start-up).
_PROCESS_SOURCE = (
    "HEADER_NAME_RE.fullmatch(name)",
    "INVALID_HEADER_VALUE_BYTES.intersection(value)",
    "parse_x_forwarded_for(",
    'self.path.decode("ascii")',
    'self.query_string.decode("ascii")',
    'upgrade_header.lower() == b"websocket"',
    "self.server.ws_factory.buildProtocol(",
    "protocol._raw_query_string = self.query_string",
)


class PlainUpgrade:
    """A WebSocket upgrade's head, as `plain_upgrade` found it: its query string and headers (lowercase names)."""

    __slots__ = ("query_string", "headers")

    def __init__(self, query_string: bytes, headers: dict[bytes, bytes]) -> None:
        self.query_string = query_string
        self.headers = headers


def plain_upgrade(
    data: bytes, name_pattern: re.Pattern[bytes], invalid_value_bytes: frozenset[int]
) -> PlainUpgrade | None:
    """The upgrade in `data` when it is one whole, plainly written WebSocket upgrade daphne accepts; else None.

    Plainly written: daphne would rebuild the same bytes (but for header names' case), and its
    checks (`name_pattern`, `invalid_value_bytes`, an ASCII path and query string) pass.
    """
    if len(data) > MAX_HEAD_BYTES or not data.startswith(b"GET /") or not data.endswith(HEAD_END):
        return None
    lines = data[: -len(HEAD_END)].split(b"\r\n")
    if len(lines) > MAX_HEADERS + 1:
        return None
    parts = lines[0].split(b" ")
    if len(parts) != 3 or parts[2] != b"HTTP/1.1" or not _TARGET.fullmatch(parts[1]):
        return None
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b": ")
        key = name.lower()
        if (
            not colon
            or not name_pattern.fullmatch(name)
            or key in headers
            or key in _BODY_HEADERS
            or value.strip(_OWS) != value
            or not _BAD_VALUE_BYTES.isdisjoint(value)
            or not invalid_value_bytes.isdisjoint(value)
        ):
            return None
        headers[key] = value
    upgrade = headers.get(b"upgrade")
    if upgrade is None or upgrade.lower() != b"websocket":
        return None
    _, _, query_string = parts[1].partition(b"?")
    return PlainUpgrade(query_string, headers)


class UpgradeFront:
    """In front of daphne's HTTP channel until the connection's first read (see the module's docstring)."""

    __slots__ = ("addr", "channel", "factory", "first_reads", "transport", "upgrades")

    def __init__(self, factory: Any, addr: Any, upgrades: "Upgrades", first_reads: "FirstReadDeadlines") -> None:
        self.factory = factory
        self.addr = addr
        self.upgrades = upgrades
        self.first_reads = first_reads
        self.channel: Any = None
        self.transport: Any = None

    def makeConnection(self, transport: Any) -> None:  # noqa: N802 - Twisted's IProtocol
        self.transport = transport
        if isinstance(transport, self.upgrades.transport_class):
            self.first_reads.wait(self, self.factory.timeOut)
        else:
            self._connect_channel()  # another transport (TLS): daphne's path from the start

    def connectionMade(self) -> None:  # noqa: N802
        """Nothing: `makeConnection` did what there is to do."""

    def dataReceived(self, data: bytes) -> None:  # noqa: N802
        if self.channel is not None:
            self.channel.dataReceived(data)
            return
        self.first_reads.forget(self)
        transport = self.transport
        if transport.protocol is self:
            protocol = self.upgrades.protocol_for(data, transport, self.factory.server)
            if protocol is not None:
                transport.protocol = protocol
                protocol.makeConnection(transport)
                protocol.dataReceived(data)
                return
        self._connect_channel().dataReceived(data)

    def timed_out(self) -> None:
        """Nothing read within daphne's idle timeout: its channel closes the connection, as it would have."""
        self._connect_channel()._channel.timeoutConnection()  # Twisted's HTTPChannel inside its generic proxy

    def _connect_channel(self) -> Any:
        """daphne's HTTP channel for this connection, built and connected now; it gets every later read."""
        channel = self.channel = self.upgrades.build_channel(self.factory, self.addr)
        transport = self.transport
        if getattr(transport, "protocol", None) is self:
            transport.protocol = channel
        channel.makeConnection(transport)
        return channel

    def connectionLost(self, reason: Any) -> None:  # noqa: N802
        if self.channel is not None:
            self.channel.connectionLost(reason)
        else:
            self.first_reads.forget(self)


class FirstReadDeadlines:
    """The connections still waiting for their first read, each closed once daphne's idle timeout passes.

    One timer for all of them, running only while some wait, in place of the timer daphne's HTTP
    channel sets and cancels per connection.
    """

    __slots__ = ("clock", "sweep", "waiting")

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self.waiting: dict[UpgradeFront, float] = {}
        self.sweep: Any = None

    def wait(self, front: UpgradeFront, timeout: float | None) -> None:
        if timeout is None:  # daphne's channel would wait for ever too
            return
        self.waiting[front] = self.clock.seconds() + timeout
        if self.sweep is None:
            self.sweep = self.clock.callLater(FIRST_READ_SWEEP_S, self._close_expired)

    def forget(self, front: UpgradeFront) -> None:
        self.waiting.pop(front, None)

    def _close_expired(self) -> None:
        self.sweep = None
        now = self.clock.seconds()
        expired = [front for front, deadline in self.waiting.items() if deadline <= now]
        for front in expired:
            del self.waiting[front]
            front.timed_out()
        if self.waiting:
            self.sweep = self.clock.callLater(FIRST_READ_SWEEP_S, self._close_expired)


class Upgrades:
    """What the front needs of daphne, found once: its checks and its server's WebSocket factory."""

    __slots__ = ("name_pattern", "invalid_value_bytes", "parse_forwarded", "transport_class", "build_channel")

    def __init__(
        self,
        name_pattern: Any,
        invalid_value_bytes: Any,
        parse_forwarded: Any,
        transport_class: type[Any],
        build_channel: Callable[[Any, Any], Any],
    ) -> None:
        self.name_pattern = name_pattern
        self.invalid_value_bytes = invalid_value_bytes
        self.parse_forwarded = parse_forwarded
        self.transport_class = transport_class
        self.build_channel = build_channel  # daphne's own HTTPFactory.buildProtocol

    def protocol_for(self, data: bytes, transport: Any, server: Any) -> Any | None:
        """daphne's WebSocket protocol for a plain upgrade in `data`, or None (daphne's path).

        The front asks only for a TCP transport (`UpgradeFront.makeConnection` sends any other to daphne).
        """
        upgrade = plain_upgrade(data, self.name_pattern, self.invalid_value_bytes)
        if upgrade is None:
            return None
        if server.proxy_forwarded_address_header and not self._forwarded_ok(server, upgrade, transport):
            return None
        try:
            protocol = server.ws_factory.buildProtocol(transport.getPeer())
        except Exception:  # noqa: BLE001 - as daphne's process catches: its path builds it again and answers
            return None
        if not protocol:
            return None
        protocol._raw_query_string = upgrade.query_string
        return protocol

    def _forwarded_ok(self, server: Any, upgrade: PlainUpgrade, transport: Any) -> bool:
        """Whether daphne's proxy header parsing takes this head without an error (daphne answers one with a 500)."""
        peer = transport.getPeer()
        try:
            self.parse_forwarded(
                {name: [value] for name, value in upgrade.headers.items()},
                server.proxy_forwarded_address_header,
                server.proxy_forwarded_port_header,
                server.proxy_forwarded_proto_header,
                [str(peer.host), peer.port] if hasattr(peer, "host") and hasattr(peer, "port") else None,
                "http",
            )
        except Exception:  # noqa: BLE001 - daphne's process catches any (a 500): its path answers it
            return False
        return True


_upgrades: Upgrades | None = None


def upgrades() -> Upgrades | None:
    """The front's state in this process (None while daphne's own path is used)."""
    return _upgrades


def _probe() -> tuple[Upgrades | None, str]:
    try:
        from daphne import http_protocol, utils
        from daphne.server import Server
        from twisted.internet import tcp
        from twisted.web import http
    except ImportError as exc:
        return None, f"daphne's own ({exc})"
    try:
        source = inspect.getsource(http_protocol.WebRequest.process)
    except (OSError, TypeError) as exc:
        return None, f"daphne's own (its request is not inspectable: {exc!r})"
    for text in _PROCESS_SOURCE:
        if text not in source:
            return None, f"daphne's own (its request's process has no {text})"
    for name in ("HEADER_NAME_RE", "INVALID_HEADER_VALUE_BYTES", "parse_x_forwarded_for"):
        if not hasattr(utils, name):
            return None, f"daphne's own (daphne.utils has no {name})"
    if not callable(getattr(http_protocol.HTTPFactory, "buildProtocol", None)):
        return None, "daphne's own (its HTTPFactory has no buildProtocol)"
    if not callable(getattr(http.HTTPChannel, "timeoutConnection", None)):
        return None, "daphne's own (Twisted's HTTPChannel has no timeoutConnection)"
    # The channel it builds: Twisted's HTTPChannel inside the generic proxy (its `_channel`).
    generic_channel = getattr(http, "_genericHTTPChannelProtocolFactory", None)
    if generic_channel is None or getattr(http_protocol.HTTPFactory, "protocol", None) is not generic_channel:
        return None, "daphne's own (its HTTP factory builds no generic Twisted HTTP channel)"
    if "ws_factory" not in inspect.getsource(Server.__init__) + inspect.getsource(Server.run):
        return None, "daphne's own (its server makes no ws_factory)"
    for name in TRANSPORT_ATTRIBUTES:
        if not hasattr(tcp.Server, name):
            return None, f"daphne's own (Twisted's TCP transport has no {name})"
    build = http_protocol.HTTPFactory.buildProtocol
    build = getattr(build, "daphne_build", build)
    found = Upgrades(
        utils.HEADER_NAME_RE, utils.INVALID_HEADER_VALUE_BYTES, utils.parse_x_forwarded_for, tcp.Server, build
    )
    return found, UPGRADE_FRONT


@cache
def use_upgrade_front() -> str:
    """Put `UpgradeFront` before daphne's HTTP channels; says what was done (logged once)."""
    global _upgrades
    found, said = _probe()
    if found is None:
        logger.warning(MSG_UPGRADE, said)
        return said
    from daphne.http_protocol import HTTPFactory

    build = found.build_channel
    if getattr(HTTPFactory.buildProtocol, "upgrade_front", False):
        logger.info(MSG_UPGRADE, said)
        return said

    def buildProtocol(self: Any, addr: Any) -> Any:  # noqa: N802 - Twisted's factory method
        if any(not hasattr(self.server, name) for name in SERVER_ATTRIBUTES) or any(
            not hasattr(self, name) for name in FACTORY_ATTRIBUTES
        ):
            return build(self, addr)
        first_reads = self.__dict__.get("gateway_first_reads")
        if first_reads is None:
            first_reads = self.gateway_first_reads = FirstReadDeadlines(self.reactor)
        return UpgradeFront(self, addr, found, first_reads)

    buildProtocol.upgrade_front = True  # type: ignore[attr-defined]
    buildProtocol.daphne_build = build  # type: ignore[attr-defined]
    HTTPFactory.buildProtocol = buildProtocol
    _upgrades = found
    logger.info(MSG_UPGRADE, said)
    return said
