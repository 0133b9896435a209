"""The gateway as deployed: real daphne / uvicorn processes, a real worker cluster, one real Redis."""

import asyncio
import signal
import uuid

import pytest
import websockets
from asgiref.sync import sync_to_async

from councilors.services import councilor_enqueue
from gamification import history
from gamification.events import emit
from gamification.protocol import CloseCode
from tests.factories import make_actor
from tests.gamification.live import TIMEOUT, receive, request, staff_token, ws_url
from tests.processes import SERVERS, daphne, manage

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.usefixtures("close_thread_connections"),
]

IDLE_S = 11  # longer than the ~5 s after which the core Redis layer used to drop idle sockets (1011)


@pytest.mark.parametrize("server", sorted(SERVERS))
async def test_an_idle_socket_stays_open_and_still_receives_events(server):
    token = await staff_token()
    with SERVERS[server]() as (_, port):
        async with websockets.connect(ws_url(port, token), compression=None, ping_interval=None) as ws:
            assert (await receive(ws, "connected"))["data"]["last_id"] == await history.newest_id()
            # Idleness is the behaviour under test here, so this sleep is the test, not a wait for an event.
            await asyncio.sleep(IDLE_S)
            sent = await sync_to_async(emit)("system_alert", {"level": "info", "message": "still here", "source": "t"})
            event = await receive(ws, "system_alert")
            assert event["timestamp"] == sent["timestamp"]
            assert (await request(ws, {"command": "ping"}))["type"] == "pong"


@pytest.mark.parametrize("server", sorted(SERVERS))
async def test_without_credentials_the_server_closes_with_4401_unauthorized(server):
    with SERVERS[server]() as (_, port):
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws/gamification", compression=None) as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), timeout=TIMEOUT)
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (CloseCode.UNAUTHORIZED, CloseCode.UNAUTHORIZED.reason)


async def _stats_until(ws, predicate) -> dict:
    """Ask for stats until they satisfy `predicate` (counts travel through a Redis heartbeat)."""
    deadline = asyncio.get_running_loop().time() + TIMEOUT
    while True:
        stats = (await request(ws, {"command": "get_stats"}))["data"]
        if predicate(stats) or asyncio.get_running_loop().time() > deadline:
            return stats
        await asyncio.sleep(0.3)


async def test_two_gateways_and_a_worker_share_one_redis(councilor):
    token = await staff_token()
    # A prefix of their own, so that stats of hubs from other tests in this process do not count.
    env = {"CHANNEL_PREFIX": f"conductor-two-{uuid.uuid4().hex[:8]}", "GAMIFICATION_STATS_TTL_S": "3"}
    env["GAMIFICATION_STATS_HEARTBEAT_S"] = "1"
    with daphne(**env) as (_, port_a), daphne(**env) as (process_b, port_b), manage("run_cluster", **env):
        async with (
            websockets.connect(ws_url(port_a, token), compression=None) as ws_a,
            websockets.connect(ws_url(port_b, token), compression=None) as ws_b,
        ):
            await receive(ws_a, "connected")
            await receive(ws_b, "connected")
            execution_id = await sync_to_async(councilor_enqueue)(councilor=councilor, actor=make_actor())
            for ws in (ws_a, ws_b):
                started = await receive(ws, "councilor_started")
                assert started["data"]["execution_id"] == execution_id
                completed = await receive(ws, "councilor_completed")
                assert completed["data"]["execution_id"] == execution_id
            # Exactly once: nothing else of that run arrives on either socket.
            for ws in (ws_a, ws_b):
                assert (await request(ws, {"command": "ping"}))["type"] == "pong"
            both = [await _stats_until(ws, lambda s: s["active_connections"] == 2) for ws in (ws_a, ws_b)]
            for stats in both:
                assert stats["active_connections"] == 2 and stats["instances"] == 2
                assert stats["topics"] == {"all": 2}
                assert len(stats["clients"]) == 2
            process_b.send_signal(signal.SIGKILL)  # dies without saying goodbye: only the TTL removes it
            process_b.wait()
            alone = await _stats_until(ws_a, lambda s: s["instances"] == 1)
            assert alone["active_connections"] == 1 and alone["instances"] == 1
