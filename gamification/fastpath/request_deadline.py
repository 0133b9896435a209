"""daphne closes an HTTP request that is not received whole in time (a slow-loris client).

Twisted's HTTP channel, under daphne, only times out a connection that sends *nothing* for 60 s:
a client that sends one header byte every few seconds, or a body that never reaches its
Content-Length, holds its connection (and a slot of the listen queue) for as long as it likes.
daphne's own `--http-timeout` does not help: it starts once the request is whole, and bounds the
application's answer (it would cut every SSE stream). So this module gives each request a
deadline from its first line: daphne calls every request's `check_timeouts` every 2 s, and one
whose headers and body are not in within API_REQUEST_RECEIVE_TIMEOUT_S gets `408 Request
Timeout` and its connection closed. Behind nginx, `client_header_timeout` and
`client_body_timeout` (deploy/nginx.conf) close such clients first.

What it relies on (pinned in requirements.txt: daphne, Twisted): daphne's `WebRequest` (its
`check_timeouts`, called periodically for each connection its server tracks; `request_start`, set
when the request is whole; `server.connections[request]["connected"]`, the time of its first line)
and the request's `channel.transport`. `enforce()` checks each at start-up and logs once which
path is taken; without them requests are bounded by Twisted's idle timeout only.
"""

import logging
import time
from functools import cache
from typing import Any

from gamification.fastpath.daphne import Capability
from infrastructure.app_settings import app_settings

logger = logging.getLogger(__name__)

REQUEST_TIMEOUT_RESPONSE = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
MSG_ENFORCED = "HTTP requests: one not received whole within %ss is closed (408)"
MSG_NOT_ENFORCED = "HTTP requests: no receive deadline (%s); only Twisted's idle timeout bounds a slow client"


def _received_for(request: Any) -> float | None:
    """Seconds since the request's first line, while it is still being received; None once it is whole."""
    if hasattr(request, "request_start"):  # daphne's process(): headers and body are in
        return None
    connected = request.server.connections.get(request, {}).get("connected")
    return None if connected is None else time.time() - connected


def _close_late(request: Any) -> None:
    transport = request.channel.transport
    logger.info(
        "closing a request not received whole within %ss (peer %s)",
        app_settings.REQUEST_RECEIVE_TIMEOUT_S,
        transport.getPeer(),
    )
    transport.write(REQUEST_TIMEOUT_RESPONSE)
    transport.loseConnection()


def _probe() -> Capability:
    try:
        from daphne.http_protocol import WebRequest
        from daphne.server import Server
    except ImportError as exc:
        return Capability(False, f"daphne is not installed ({exc})")
    if not callable(getattr(WebRequest, "check_timeouts", None)):
        return Capability(False, "daphne's WebRequest has no check_timeouts")
    if not callable(getattr(Server, "protocol_connected", None)):
        return Capability(False, "daphne's Server has no protocol_connected")
    return Capability(True, "daphne's WebRequest.check_timeouts")


@cache
def enforce() -> Capability:
    """Give every HTTP request daphne receives a deadline (once per process); logged once."""
    capability = _probe()
    if not capability.available or app_settings.REQUEST_RECEIVE_TIMEOUT_S <= 0:
        logger.warning(MSG_NOT_ENFORCED, capability.reason if not capability.available else "turned off")
        return capability
    from daphne.http_protocol import WebRequest

    original = WebRequest.check_timeouts

    def check_timeouts(self: Any) -> None:
        elapsed = _received_for(self)
        if elapsed is not None and elapsed > app_settings.REQUEST_RECEIVE_TIMEOUT_S:
            _close_late(self)
            return
        original(self)

    check_timeouts.original = original  # type: ignore[attr-defined]
    WebRequest.check_timeouts = check_timeouts
    logger.info(MSG_ENFORCED, app_settings.REQUEST_RECEIVE_TIMEOUT_S)
    return capability
