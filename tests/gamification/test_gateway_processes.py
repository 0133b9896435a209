"""The gateway as deployed: real daphne / uvicorn processes, a real worker cluster, one real Redis."""

import asyncio
import json
import signal
import uuid

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User

from conductor.tokens import token_mint
from councilors.services import councilor_enqueue
from gamification import history
from gamification.events import emit
from tests.processes import SERVERS, daphne, manage

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TIMEOUT = 30
IDLE_S = 11  # longer than the ~5 s after which the core Redis layer used to drop idle sockets (1011)


def _url(port: int, token: str) -> str:
    return f"ws://127.0.0.1:{port}/ws/gamification?token={token}"


async def _token() -> str:
    user = await sync_to_async(User.objects.create_user)(f"watcher-{uuid.uuid4().hex[:6]}", is_staff=True)
    return token_mint(user=user)


async def _receive(ws, event_type: str) -> dict:
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout=TIMEOUT))
        if message["type"] == event_type:
            return message


async def _request(ws, command: dict) -> dict:
    await ws.send(json.dumps(command))
    reply_type = {"get_stats": "stats", "ping": "pong"}[command["command"]]
    return await _receive(ws, reply_type)


@pytest.mark.parametrize("server", sorted(SERVERS))
async def test_an_idle_socket_stays_open_and_still_receives_events(server):
    token = await _token()
    with SERVERS[server]() as (_, port):
        async with websockets.connect(_url(port, token), compression=None, ping_interval=None) as ws:
            assert (await _receive(ws, "connected"))["data"]["last_id"] == await history.newest_id()
            # Idleness is the behaviour under test here, so this sleep is the test, not a wait for an event.
            await asyncio.sleep(IDLE_S)
            sent = await sync_to_async(emit)("system_alert", {"level": "info", "message": "still here", "source": "t"})
            event = await _receive(ws, "system_alert")
            assert event["timestamp"] == sent["timestamp"]
            assert (await _request(ws, {"command": "ping"}))["type"] == "pong"


async def _stats_until(ws, predicate) -> dict:
    """Ask for stats until they satisfy `predicate` (counts travel through a Redis heartbeat)."""
    deadline = asyncio.get_running_loop().time() + TIMEOUT
    while True:
        stats = (await _request(ws, {"command": "get_stats"}))["data"]
        if predicate(stats) or asyncio.get_running_loop().time() > deadline:
            return stats
        await asyncio.sleep(0.3)


async def test_two_gateways_and_a_worker_share_one_redis(councilor):
    token = await _token()
    # A prefix of their own, so that stats of hubs from other tests in this process do not count.
    env = {"CHANNEL_PREFIX": f"conductor-two-{uuid.uuid4().hex[:8]}", "GAMIFICATION_STATS_TTL_S": "3"}
    env["GAMIFICATION_STATS_HEARTBEAT_S"] = "1"
    with daphne(**env) as (_, port_a), daphne(**env) as (process_b, port_b), manage("qcluster", **env):
        async with (
            websockets.connect(_url(port_a, token), compression=None) as ws_a,
            websockets.connect(_url(port_b, token), compression=None) as ws_b,
        ):
            await _receive(ws_a, "connected")
            await _receive(ws_b, "connected")
            execution_id = await sync_to_async(councilor_enqueue)(councilor=councilor)
            for ws in (ws_a, ws_b):
                started = await _receive(ws, "councilor_started")
                assert started["data"]["execution_id"] == execution_id
                completed = await _receive(ws, "councilor_completed")
                assert completed["data"]["execution_id"] == execution_id
            # Exactly once: nothing else of that run arrives on either socket.
            for ws in (ws_a, ws_b):
                assert (await _request(ws, {"command": "ping"}))["type"] == "pong"
            both = [await _stats_until(ws, lambda s: s["active_connections"] == 2) for ws in (ws_a, ws_b)]
            for stats in both:
                assert stats["active_connections"] == 2 and stats["instances"] == 2
                assert stats["topics"] == {"all": 2}
                assert len(stats["clients"]) == 2
            process_b.send_signal(signal.SIGKILL)  # dies without saying goodbye: only the TTL removes it
            process_b.wait()
            alone = await _stats_until(ws_a, lambda s: s["instances"] == 1)
            assert alone["active_connections"] == 1 and alone["instances"] == 1
