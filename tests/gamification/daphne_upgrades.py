"""daphne saying, for each connection's first read, which way its upgrade goes (tests of
gamification/fastpath/daphne_upgrade.py read its log).

Run as `python -m tests.gamification.daphne_upgrades <daphne's arguments>`. With
TEST_UPGRADE_FRONT=off it is daphne with its own upgrade only (the stock gateway the tests compare
answers with); with TEST_PROXY_HEADERS=on daphne reads the proxy's X-Forwarded-* headers; with
TEST_HTTP_IDLE_S=<seconds> its HTTP factory's idle timeout is that (Twisted's default is 60 s).
"""

import logging
import os
import sys
from typing import Any

from daphne.cli import CommandLineInterface
from daphne.http_protocol import HTTPFactory

from gamification.fastpath import daphne_upgrade

MSG_FRONT = "test: an upgrade went through the front"
MSG_DAPHNE = "test: a first read went to daphne's HTTP channel"
FRONT_OFF = "daphne's own (turned off by the test)"

logger = logging.getLogger(__name__)

if os.environ.get("TEST_UPGRADE_FRONT") == "off":
    daphne_upgrade.use_upgrade_front = lambda: FRONT_OFF  # type: ignore[assignment]
else:
    _protocol_for = daphne_upgrade.Upgrades.protocol_for

    def _said_protocol_for(self: daphne_upgrade.Upgrades, data: bytes, transport: Any, server: Any) -> Any:
        protocol = _protocol_for(self, data, transport, server)
        logger.warning(MSG_FRONT if protocol is not None else MSG_DAPHNE)
        return protocol

    daphne_upgrade.Upgrades.protocol_for = _said_protocol_for  # type: ignore[method-assign]

if idle := os.environ.get("TEST_HTTP_IDLE_S"):
    _factory_init = HTTPFactory.__init__

    def _init_with_idle_timeout(self: HTTPFactory, *args: Any, **kwargs: Any) -> None:
        _factory_init(self, *args, **kwargs)
        self.timeOut = float(idle)

    HTTPFactory.__init__ = _init_with_idle_timeout  # type: ignore[method-assign]

if __name__ == "__main__":
    if os.environ.get("TEST_PROXY_HEADERS") == "on":
        sys.argv[1:1] = ["--proxy-headers"]
    sys.exit(CommandLineInterface.entrypoint())
