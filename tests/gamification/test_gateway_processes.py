"""The gateway as deployed: real daphne / uvicorn processes, a real worker cluster, one real Redis."""

import asyncio
import base64
import json
import os
import signal
import socket
import uuid

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.db import connections

from councilors.services import councilor_enqueue
from gamification import history
from gamification.events import emit
from gamification.protocol import CLOSE_SLOW_CONSUMER, CLOSE_UNAUTHORIZED, CLOSE_UNAUTHORIZED_REASON
from infrastructure.tokens import token_mint
from tests.processes import SERVERS, daphne, manage

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture(autouse=True)
async def _close_thread_connections():
    """Close the connections sync_to_async threads opened, or Postgres cannot drop the test database."""
    yield
    await sync_to_async(connections.close_all)()


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


@pytest.mark.parametrize("server", sorted(SERVERS))
async def test_without_credentials_the_server_closes_with_4401_unauthorized(server):
    with SERVERS[server]() as (_, port):
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws/gamification", compression=None) as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), timeout=TIMEOUT)
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (CLOSE_UNAUTHORIZED, CLOSE_UNAUTHORIZED_REASON)


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


def _stuck_client(port: int, token: str) -> socket.socket:
    """A WebSocket client that completes the handshake and then never reads (tiny receive buffer)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /ws/gamification?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    sock.settimeout(TIMEOUT)
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(1)  # byte by byte: leave the frames that follow unread
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


def _read_to_end(sock: socket.socket) -> bytes:
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return data


@pytest.mark.parametrize("server", sorted(SERVERS))
async def test_a_client_that_stops_reading_is_closed_and_holds_back_no_one(server):
    token = await _token()
    events, limit = 800, 20
    detail = {"blob": "x" * 16000}  # big frames fill the socket buffers quickly
    with SERVERS[server](GAMIFICATION_WS_OUTBOX_FRAMES=str(limit)) as (_, port):
        stuck = await sync_to_async(_stuck_client)(port, token)
        async with websockets.connect(_url(port, token), compression=None, max_size=2**20) as fast:
            fast_id = (await _receive(fast, "connected"))["data"]["client_id"]
            for number in range(events):
                data = {"level": "info", "message": str(number), "source": "t", "details": detail}
                await sync_to_async(emit)("system_alert", data)
                # In step with the fast client, which must get every event while the stuck one reads nothing.
                assert (await _receive(fast, "system_alert"))["data"]["message"] == str(number)
            # Counted from this process's own list: other test processes' stats may share the Redis.
            clients = (await _request(fast, {"command": "get_stats"}))["data"]["clients"]
            (instance,) = {client["instance"] for client in clients if client["client_id"] == fast_id}
            assert [client["client_id"] for client in clients if client["instance"] == instance] == [fast_id]
        # The close frame (4008 "Too slow") queues behind the unread backlog; when the client does not drain
        # it within the server's close timeout, the server drops the TCP connection instead.
        received = await sync_to_async(_read_to_end)(stuck)
        stuck.close()
        assert len(received) < events * 16000  # it did not get everything: it was cut off
        if received.endswith(b"Too slow"):
            assert received[-10:-8] == CLOSE_SLOW_CONSUMER.to_bytes(2, "big")
