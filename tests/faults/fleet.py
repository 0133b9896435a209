"""Many WebSocket clients in one asyncio process, each recording every envelope it receives.

A client can follow a list of gateway URLs: when its connection drops it reconnects to the next
one (as the dashboard's client does behind a load balancer) and resumes from its last event id.
"""

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

TIMEOUT = 10.0

# Every client of a fleet is the one test user: gateways that serve a fleet lift the per-user cap.
FLEET_GATEWAY_ENV = {"GAMIFICATION_WS_MAX_PER_USER": "0"}


@dataclass
class Client:
    urls: list[str]
    events: list[dict[str, Any]] = field(default_factory=list)  # broadcast envelopes, live or replayed
    replies: list[dict[str, Any]] = field(default_factory=list)  # id-less messages to this client
    arrivals: list[float] = field(default_factory=list)  # monotonic arrival time of each event
    closes: list[int | None] = field(default_factory=list)
    connects: int = 0
    client_id: str = ""  # the gateway's id for the current connection (its `connected` message)
    ws: ClientConnection | None = None
    reconnect: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task | None = None

    @property
    def last_id(self) -> int:
        return max((event["id"] for event in self.events), default=0)

    def ids(self) -> list[int]:
        return [event["id"] for event in self.events]

    async def open(self, *, since: int | None = None) -> dict[str, Any]:
        """Connect (with `?since=`: resuming in the handshake); returns the `connected` message."""
        url = self.urls[self.connects % len(self.urls)]
        if since is not None:
            url = f"{url}{'&' if '?' in url else '?'}since={since}"
        self.ws = await connect(url, open_timeout=TIMEOUT, ping_interval=None, max_size=2**22)
        self.connects += 1
        hello = json.loads(await asyncio.wait_for(self.ws.recv(), TIMEOUT))
        assert hello["type"] == "connected", hello
        self.client_id = hello["data"]["client_id"]
        self.task = asyncio.create_task(self._read())
        return hello

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                message = json.loads(raw)
                if message.get("id") is None:
                    self.replies.append(message)
                else:
                    self.events.append(message)
                    self.arrivals.append(time.monotonic())
                self.changed.set()
        except ConnectionClosed:
            pass
        self.closes.append(self.ws.close_code)
        self.changed.set()

    async def send(self, command: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(command))

    async def wait_for(self, predicate, timeout: float = TIMEOUT) -> Any:
        """Wait until predicate(self) is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while not (value := predicate(self)):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"client waited {timeout}s in vain")
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), remaining)
            except TimeoutError:
                continue
        return value

    async def resume(self, since: int, timeout: float = TIMEOUT) -> dict[str, Any]:
        """Send `resume` and return the `resumed` reply (the replayed events land in `events`)."""
        before = len(self.replies)
        await self.send({"command": "resume", "since": since})

        def resumed(client: "Client") -> dict[str, Any] | None:
            return next((r for r in client.replies[before:] if r["type"] in ("resumed", "error")), None)

        return await self.wait_for(resumed, timeout)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.task is not None:
            await self.task


async def open_fleet(urls: list[str], count: int) -> list[Client]:
    clients = [Client(urls=list(urls)) for _ in range(count)]
    for start in range(0, count, 50):  # in waves, as a page full of tabs would not all connect at once
        await asyncio.gather(*(client.open() for client in clients[start : start + 50]))
    return clients


async def close_fleet(clients: list[Client]) -> None:
    await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)
