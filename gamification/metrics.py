"""Prometheus counters of the gateway: connections, events emitted and delivered per type.

One module holds every metric object; the emitter and the WebSocket gateway call the small
helpers below, and `/metrics` exposes them (with the run metrics the database collector in
`councilors.metrics` derives, which are deployment-wide).

Multi-process semantics: these counters live in the process that counts. Without
`PROMETHEUS_MULTIPROC_DIR`, a gateway's `/metrics` reports that process only (scrape every gateway
and `sum by (type)`), and events emitted by worker processes are not seen. With
`PROMETHEUS_MULTIPROC_DIR` set to one empty folder shared by every process of a machine (daphne
and qcluster alike, set before they start), prometheus_client keeps the values in files there and
`/metrics` on any gateway of that machine reports the machine's totals; connections are then summed
over live processes only (`livesum`).
"""

from prometheus_client import Counter, Gauge

EVENTS_EMITTED = Counter("conductor_events_emitted", "Events published to the channel layer, by type", ["type"])
EVENTS_NOT_PUBLISHED = Counter(
    "conductor_events_not_published", "Events the channel layer could not take (logged), by type", ["type"]
)
EVENTS_DELIVERED = Counter("conductor_events_delivered", "Event frames written to WebSocket clients, by type", ["type"])
CONNECTIONS = Gauge("conductor_websocket_connections", "Open WebSocket connections", multiprocess_mode="livesum")
CONNECTIONS_OPENED = Counter("conductor_websocket_connections_opened", "WebSocket connections accepted")
WRITE_PATHS = Counter(
    "conductor_websocket_write_path",
    "WebSocket connections by how their frames are written: daphne (the fast path) or asgi (plain send)",
    ["path"],
)


def event_emitted(event_type: str) -> None:
    EVENTS_EMITTED.labels(type=event_type).inc()


def event_not_published(event_type: str) -> None:
    EVENTS_NOT_PUBLISHED.labels(type=event_type).inc()


def event_delivered(event_type: str, count: int = 1) -> None:
    """`count` frames of one event written to clients (one fan-out may write to many sockets)."""
    EVENTS_DELIVERED.labels(type=event_type).inc(count)


def connection_opened() -> None:
    CONNECTIONS.inc()
    CONNECTIONS_OPENED.inc()


def connection_closed() -> None:
    CONNECTIONS.dec()


def write_path_chosen(path: str) -> None:
    """A connection's outbox writes through `path` (gamification/fastpath/daphne.py says which and why)."""
    WRITE_PATHS.labels(path=path).inc()
