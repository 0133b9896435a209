"""Fuzzed WebSocket commands through the real ASGI application (routing, origin check, token auth).

Every input gets a well-formed reply — an error with a documented code, or the command's answer —
or a close with a documented code; never an unhandled exception (the communicator re-raises
anything the consumer lets escape). A well-behaved client on the same gateway keeps receiving
events throughout.
"""

import asyncio
import itertools
import json
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Permission, User
from hypothesis import example, given

from conductor.asgi import application
from gamification import protocol
from gamification.catalogue import BROADCAST_TYPES
from gamification.events import aemit
from infrastructure.tokens import token_mint
from tests.factories import make_agent, make_councilor
from tests.hostile.strategies import FUZZ, KNOWN_COUNCILOR, ws_text

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 5
BROWSER = [(b"host", b"127.0.0.1:8000"), (b"origin", b"http://127.0.0.1:8000")]
ERROR_CODES = frozenset(protocol.ERROR_CODES)
DOCUMENTED_CLOSES = {
    protocol.CloseCode.MESSAGE_TOO_BIG,
    protocol.CloseCode.RATE_LIMITED,
    protocol.CloseCode.SLOW_CONSUMER,
}
REPLY_TYPES = {
    "pong",
    "subscribed",
    "stats",
    "resumed",
    "error",
    "councilor_paused",
    "councilor_resumed",
    "councilor_run_queued",
}


def check_envelope(message: dict[str, Any]) -> None:
    """A well-formed envelope (docs/protocol.md, "The envelope") of a known type; errors: documented code, message."""
    assert set(message) == {"type", "data", "timestamp", "id"}, message
    assert isinstance(message["data"], dict) and isinstance(message["timestamp"], float)
    assert message["type"] in REPLY_TYPES | BROADCAST_TYPES, message
    if message["type"] == "error":
        assert message["data"]["code"] in ERROR_CODES, message
        assert isinstance(message["data"]["message"], str) and message["data"]["message"], message
        assert message["id"] is None


class Gateway:
    """Two clients on one in-process gateway: the fuzzer and a well-behaved watcher."""

    def __init__(self, token: str) -> None:
        self.path = f"/ws/gamification?token={token}"
        self.sentinels = itertools.count()
        self.fuzzer: WebsocketCommunicator | None = None
        self.watcher: WebsocketCommunicator | None = None
        self.closes: list[int] = []

    async def open(self) -> WebsocketCommunicator:
        communicator = WebsocketCommunicator(application, self.path, headers=BROWSER)
        accepted, _ = await communicator.connect(timeout=TIMEOUT)
        assert accepted
        assert (await communicator.receive_json_from(timeout=TIMEOUT))["type"] == "connected"
        return communicator

    async def start(self) -> None:
        self.fuzzer, self.watcher = await self.open(), await self.open()

    async def stop(self) -> None:
        for communicator in (self.fuzzer, self.watcher):
            if communicator is not None:
                await communicator.disconnect()

    async def send_hostile(self, kind: str, payload: Any) -> None:
        # send_input, not send_to: the latter refuses empty frames, which a hostile client may send.
        if kind == "json":
            await self.fuzzer.send_input({"type": "websocket.receive", "text": json.dumps(payload)})
        elif kind == "text":
            await self.fuzzer.send_input({"type": "websocket.receive", "text": payload})
        else:
            await self.fuzzer.send_input({"type": "websocket.receive", "bytes": payload})

    async def settle_fuzzer(self) -> None:
        """Read the fuzzer's answers up to a sentinel ping's pong (or a documented close)."""
        sentinel = f"sentinel-{next(self.sentinels)}"
        await self.fuzzer.send_json_to({"command": "ping", "request_id": sentinel})
        while True:
            output = await self.fuzzer.receive_output(timeout=TIMEOUT)
            if output["type"] == "websocket.close":
                assert output.get("code") in DOCUMENTED_CLOSES, output
                self.closes.append(output["code"])
                await self.fuzzer.disconnect()
                self.fuzzer = await self.open()
                return
            message = json.loads(output["text"])
            check_envelope(message)
            if message["type"] == "pong" and message["data"].get("request_id") == sentinel:
                return

    async def watcher_still_served(self) -> None:
        sent = await aemit("system_alert", {"level": "info", "message": "still here?", "source": "fuzz"})
        while True:
            message = await self.watcher.receive_json_from(timeout=TIMEOUT)
            if message["type"] == "system_alert" and message["timestamp"] == sent["timestamp"]:
                return


@pytest.fixture
def fuzz_token(settings) -> str:
    # The rate limit has its own tests; here it would only turn every input into a 4029 close.
    settings.GAMIFICATION_WS_RATE_LIMIT_PER_S = 100_000
    settings.GAMIFICATION_WS_RATE_LIMIT_BURST = 100_000
    make_councilor(agent=make_agent(agent_id=KNOWN_COUNCILOR))
    user = User.objects.create_user("fuzzer", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="change_councilor"))
    return token_mint(user=user)


def test_fuzzed_commands_get_a_reply_or_a_documented_close_and_others_keep_receiving(fuzz_token):
    with asyncio.Runner() as runner:
        gateway = Gateway(fuzz_token)
        runner.run(gateway.start())

        @FUZZ
        @given(message=ws_text)
        # Known sharp edges, always tried: NUL in a database lookup (PostgreSQL refuses it), ids and
        # request ids beyond 64 bits, deep nesting, an empty frame.
        @example(message=("json", {"command": "pause_councilor", "councilor_id": "a\x00b"}))
        @example(message=("json", {"command": "run_councilor", "councilor_id": "x" * 5000}))
        @example(message=("json", {"command": "resume", "since": 2**80}))
        @example(message=("json", {"command": "resume", "since": -1, "request_id": 2**80}))
        @example(message=("json", {"command": "subscribe", "topics": ["all"] * 1000}))
        @example(message=("text", "[" * 5000 + "]" * 5000))
        @example(message=("text", ""))
        @example(message=("bytes", b""))
        def one_message(message: tuple[str, Any]) -> None:
            runner.run(gateway.send_hostile(*message))
            runner.run(gateway.settle_fuzzer())
            runner.run(gateway.watcher_still_served())

        try:
            one_message()
        finally:
            runner.run(gateway.stop())
