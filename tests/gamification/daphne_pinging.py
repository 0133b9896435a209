"""daphne pinging every second, saying once when the gateway's protocol writes straight to a socket and
when it takes a pong through its shortcut (tests of gamification/fastpath/daphne.py read its log).

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


daphne.write_through = _once(MSG_WROTE_THROUGH, daphne.write_through)
gateway_class = daphne._gateway_protocol_class()
gateway_class._auto_pong = _once(MSG_SHORTCUT_PONG, gateway_class._auto_pong)

if __name__ == "__main__":
    sys.argv[1:1] = ["--ping-interval", str(PING_INTERVAL_S), "--ping-timeout", str(PING_TIMEOUT_S)]
    sys.exit(CommandLineInterface.entrypoint())
