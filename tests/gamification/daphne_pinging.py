"""daphne pinging every second, saying once when the gateway's protocol writes straight to a socket,
when one write carries the handshake's answer and the first frame after it, and when it takes a
pong through its shortcut (tests of gamification/fastpath/daphne.py read its log).

Run as `python -m tests.gamification.daphne_pinging <daphne's arguments>`.
"""

import logging
import sys
from functools import wraps
from typing import Any

from daphne.cli import CommandLineInterface

from gamification.fastpath import daphne

PING_INTERVAL_S = 1
PING_TIMEOUT_S = 2
MSG_WROTE_THROUGH = "test: a write went straight to the socket"
MSG_SHORTCUT_PONG = "test: a pong took the gateway's shortcut"
MSG_ANSWER_WITH_CONNECTED = "test: the handshake's answer and `connected` went out in one write"

logger = logging.getLogger(__name__)


def _once(message: str, function: Any) -> Any:
    said = []

    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not said:
            said.append(True)
            logger.warning(message)
        return function(*args, **kwargs)

    return wrapper


def _answer_with_connected(function: Any) -> Any:
    said = []

    @wraps(function)
    def wrapper(transport: Any, data: bytes) -> Any:
        head, _, rest = data.partition(b"\r\n\r\n")
        if not said and head.startswith(b"HTTP/1.1 101 ") and b'"connected"' in rest:
            said.append(True)
            logger.warning(MSG_ANSWER_WITH_CONNECTED)
        return function(transport, data)

    return wrapper


daphne.write_through = _once(MSG_WROTE_THROUGH, _answer_with_connected(daphne.write_through))
gateway_class = daphne._gateway_protocol_class()
gateway_class._auto_pong = _once(MSG_SHORTCUT_PONG, gateway_class._auto_pong)

if __name__ == "__main__":
    sys.argv[1:1] = ["--ping-interval", str(PING_INTERVAL_S), "--ping-timeout", str(PING_TIMEOUT_S)]
    sys.exit(CommandLineInterface.entrypoint())
