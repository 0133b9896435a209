"""Hostile clients against a real daphne: foreign origins, bad tokens, a 2 MB message, a command
flood, and a client that never reads while 500 events are broadcast. A well-behaved client on the
same gateway keeps receiving every event throughout.
"""

import asyncio
import base64
import json
import os
import socket
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psutil
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.test import Client
from websockets.asyncio.client import ClientConnection, connect
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import Close, Opcode
from websockets.protocol import State
from websockets.sync.client import ClientConnection as SyncConnection
from websockets.sync.client import connect as sync_connect
from websockets.uri import parse_uri

from gamification import protocol
from gamification.events import aemit
from infrastructure.tokens import token_mint
from tests.processes import daphne

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("private_channel_prefix"),  # killed gateways leave no keys for other tests
]

TIMEOUT = 10
# daphne refuses an incoming message over --websocket-max-message-size (1 MiB by default) itself,
# with the standard close code for "message too big", before the consumer sees it.
CLOSE_DAPHNE_TOO_BIG = 1009
ALG_NONE_HEADER = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
OUTBOX_FRAMES = 100  # the slow-client bound for this test's gateway (GAMIFICATION_WS_OUTBOX_FRAMES)


@pytest.fixture
def gateway(tmp_path):
    with daphne(log_path=tmp_path / "daphne.log", GAMIFICATION_WS_OUTBOX_FRAMES=str(OUTBOX_FRAMES)) as (process, port):
        yield process, port


@sync_to_async
def make_token(username: str, *, staff: bool = False, **options) -> str:
    return token_mint(user=User.objects.create_user(username, is_staff=staff), **options)


@sync_to_async
def session_cookie(username: str) -> str:
    client = Client()
    client.force_login(User.objects.create_user(username))
    return f"sessionid={client.cookies['sessionid'].value}"


def same_origin(port: int) -> str:
    """The Origin of a page served by the gateway itself (scheme, host and port of ws_url)."""
    return f"http://127.0.0.1:{port}"


def ws_url(port: int, token: str | None = None) -> str:
    return f"ws://127.0.0.1:{port}/ws/gamification" + (f"?token={token}" if token else "")


@asynccontextmanager
async def client(port: int, token: str | None = None, **kwargs) -> AsyncIterator[ClientConnection]:
    async with connect(ws_url(port, token), open_timeout=TIMEOUT, ping_interval=None, **kwargs) as ws:
        yield ws


async def receive(ws: ClientConnection) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))


async def watcher(port: int, *, staff: bool = False) -> ClientConnection:
    """A well-behaved client: authenticated by token, reads everything promptly."""
    token = await make_token(f"watcher{time.monotonic_ns()}", staff=staff)
    ws = await connect(ws_url(port, token), ping_interval=None)
    hello = await receive(ws)
    assert hello["type"] == "connected"
    ws.client_id = hello["data"]["client_id"]
    return ws


async def still_served(ws: ClientConnection) -> None:
    """The watcher gets a fresh event and an answer to its ping."""
    sent = await aemit("system_alert", {"level": "info", "message": "still served?", "source": "hostile"})
    while (message := await receive(ws))["timestamp"] != sent["timestamp"]:
        pass
    await ws.send(json.dumps({"command": "ping", "request_id": "alive"}))
    while (message := await receive(ws))["type"] != "pong":
        pass
    assert message["data"]["request_id"] == "alive"


async def close_code(ws: ClientConnection) -> int:
    """Read until the server closes; its close code."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
    return closed.value.rcvd.code


async def test_foreign_origin_missing_origin_and_bad_tokens_are_refused(gateway):
    _, port = gateway
    good = await watcher(port)
    token = await make_token("someone")

    with pytest.raises(InvalidStatus) as refused:  # a browser on another site: refused before accept
        async with client(port, token, origin="http://evil.example"):
            pass
    assert refused.value.response.status_code == 403

    cookie = await session_cookie("browser-user")
    async with client(port, additional_headers={"Cookie": cookie}) as ws:  # no Origin: a cookie is not enough
        assert await close_code(ws) == protocol.CloseCode.UNAUTHORIZED
    async with client(
        port, additional_headers={"Cookie": cookie}, origin=same_origin(port)
    ) as ws:  # the same, from a browser
        assert (await receive(ws))["type"] == "connected"

    header, claims, signature = token.split(".")
    forged_claims = json.loads(base64.urlsafe_b64decode(claims + "=="))
    forged_claims["sub"] = "watcher-admin"
    forged = base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).rstrip(b"=").decode()
    tampered = {
        "signature": f"{header}.{claims}.{signature[:-4]}{'AAAA' if not signature.endswith('AAAA') else 'BBBB'}",
        "claims": f"{header}.{forged}.{signature}",
        "alg none": f"{ALG_NONE_HEADER}.{claims}.",
        "expired": await make_token("late", ttl_seconds=-1),
        "garbage": "not-a-jwt",
    }
    for name, bad in tampered.items():
        async with client(port, bad) as ws:
            assert await close_code(ws) == protocol.CloseCode.UNAUTHORIZED, name
        async with client(port, bad, origin=same_origin(port)) as ws:
            assert await close_code(ws) == protocol.CloseCode.UNAUTHORIZED, name

    await still_served(good)
    await good.close()


async def test_a_2mb_message_is_refused_with_a_documented_close_and_others_carry_on(gateway):
    _, port = gateway
    good = await watcher(port)
    async with client(port, await make_token("big"), max_size=None) as ws:
        assert (await receive(ws))["type"] == "connected"
        await ws.send(json.dumps({"command": "ping", "pad": "x" * (2 * 1024 * 1024)}))
        assert await close_code(ws) == CLOSE_DAPHNE_TOO_BIG
    await still_served(good)
    async with client(port, await make_token("after")) as ws:  # the gateway still takes new clients
        assert (await receive(ws))["type"] == "connected"
    await good.close()


async def test_a_client_sending_1000_commands_per_second_is_closed_and_others_are_unaffected(gateway):
    _, port = gateway
    good = await watcher(port)
    async with client(port, await make_token("flooder")) as flooder:
        assert (await receive(flooder))["type"] == "connected"
        started = time.monotonic()

        async def flood() -> int:
            sent = 0
            with pytest.raises(ConnectionClosed):
                while time.monotonic() - started < TIMEOUT:
                    await flooder.send(json.dumps({"command": "ping"}))
                    sent += 1
                    if sent % 10 == 0:
                        await asyncio.sleep(0.01)  # 10 commands per 10 ms: 1,000 a second
            return sent

        flooding = asyncio.create_task(flood())
        await still_served(good)  # while the flood runs
        code = await close_code(flooder)
        sent = await flooding
    assert code == protocol.CloseCode.RATE_LIMITED
    assert time.monotonic() - started < 5, "the flood went on for too long"
    assert sent < 1000
    await still_served(good)
    await good.close()


def _raw_handshake(port: int, token: str) -> socket.socket:
    """A WebSocket client that completes the handshake and then never reads: a tiny receive buffer."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect, so the window stays small
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws/gamification?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(1)
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


def _read_close_code(sock: socket.socket, timeout: float) -> int | None:
    """Now read everything the server sent: the close frame's code, or None if the connection was cut.

    The frames are parsed by websockets' own sans-I/O protocol, already open (the handshake was raw).
    """
    sock.settimeout(timeout)
    frames = ClientProtocol(parse_uri(f"ws://{sock.getpeername()[0]}/"), state=State.OPEN, max_size=None)
    while True:
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            return None
        if not chunk:
            return None
        frames.receive_data(chunk)
        for frame in frames.events_received():
            if frame.opcode is Opcode.CLOSE:
                return Close.parse(frame.data).code


def _local_connections(observer: SyncConnection, client_id: str) -> int:
    """Connections on this test's gateway process (the stats of a staff client list them by process;
    gateways of earlier tests may still be counted in the deployment-wide totals for a while)."""
    observer.send(json.dumps({"command": "get_stats"}))
    while (message := json.loads(observer.recv(TIMEOUT)))["type"] != "stats":
        pass
    clients = message["data"]["clients"]
    mine = next(client["instance"] for client in clients if client["client_id"] == client_id)
    return sum(client["instance"] == mine for client in clients)


def _close_code_once_dropped(port: int, token: str, slow: socket.socket, connected: threading.Event) -> int | None:
    """Watch the gateway's connection count from a thread of its own; once it lets go of the slow
    client, read that client's socket at once: the gateway gives a client that never answers its
    close frame only a moment before it cuts the TCP connection (which would discard the frame)."""
    with sync_connect(ws_url(port, token), open_timeout=TIMEOUT) as observer:
        client_id = json.loads(observer.recv(TIMEOUT))["data"]["client_id"]
        observer.send(json.dumps({"command": "subscribe", "topics": []}))  # no events for the observer
        connected.set()
        while _local_connections(observer, client_id) > 2:  # the observer, the watcher and the slow one
            time.sleep(0.12)  # under the command rate limit
        return _read_close_code(slow, TIMEOUT)


async def test_a_client_that_never_reads_is_disconnected_with_bounded_memory_and_others_get_every_event(gateway):
    process, port = gateway
    good = await watcher(port)
    slow = await asyncio.to_thread(_raw_handshake, port, await make_token("never-reads"))
    await still_served(good)
    rss_before = psutil.Process(process.pid).memory_info().rss
    # 16 KB per event: 500 of them (8 MB) are more than the kernel (up to 4 MB of send buffer on
    # loopback), the server's 64 KiB write buffer and the outbox bound together hold.
    padding = "x" * 16_000

    received: list[int] = []

    async def watch() -> None:
        while len(received) < 500:
            message = await receive(good)
            if message["type"] == "system_alert" and message["data"]["source"] == "flood":
                received.append(message["data"]["details"]["n"])

    observing = threading.Event()
    observer_token = await make_token("observer", staff=True)
    dropped = asyncio.create_task(asyncio.to_thread(_close_code_once_dropped, port, observer_token, slow, observing))
    assert await asyncio.to_thread(observing.wait, TIMEOUT)
    watching = asyncio.create_task(watch())
    for number in range(500):
        await aemit("system_alert", {"level": "info", "message": padding, "source": "flood", "details": {"n": number}})
        await asyncio.sleep(0.002)  # a busy deployment, not one burst: the well-behaved client keeps up
    await asyncio.wait_for(watching, TIMEOUT * 3)
    assert received == list(range(500)), "the well-behaved client missed or reordered events"
    rss_growth = psutil.Process(process.pid).memory_info().rss - rss_before
    assert rss_growth < 30 * 2**20, f"gateway grew {rss_growth / 2**20:.1f} MB for one slow client"

    assert await asyncio.wait_for(dropped, TIMEOUT * 2) == protocol.CloseCode.SLOW_CONSUMER
    slow.close()
    await still_served(good)
    await good.close()
