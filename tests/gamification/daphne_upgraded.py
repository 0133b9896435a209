"""daphne as after an upgrade of autobahn that no longer keeps `send_queue` on its protocol.

Run as `python -m tests.gamification.daphne_upgraded <daphne's arguments>`: autobahn's own
sending keeps working (written without the queue), but the attribute the gateway's fast path
reads is gone from every connection's protocol — what a rename in a new release would do.
"""

import sys

from autobahn.websocket.protocol import WebSocketProtocol
from daphne.cli import CommandLineInterface

_connection_made = WebSocketProtocol._connectionMade


def _connection_made_without_send_queue(self: WebSocketProtocol) -> None:
    _connection_made(self)
    del self.send_queue


def _send_data(self: WebSocketProtocol, data: bytes, sync: bool = False, chopsize: int | None = None) -> None:
    self.transport.write(data)


WebSocketProtocol._connectionMade = _connection_made_without_send_queue
WebSocketProtocol.sendData = _send_data

if __name__ == "__main__":
    sys.exit(CommandLineInterface.entrypoint())
