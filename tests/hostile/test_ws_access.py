"""Who may hold a socket, against real daphne gateways: a page on another origin riding on the
session cookie, an expired token on an open socket, a revoked permission, a deactivated user, and
one user opening more sockets than allowed across two gateways (docs/protocol.md, "Connecting and access").
"""

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import jwt
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Permission, User
from django.test import Client
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from councilors.models import Councilor
from gamification import protocol
from infrastructure.tokens import token_mint
from tests.processes import daphne

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("private_channel_prefix"),  # killed gateways leave no keys for other tests
]

TIMEOUT = 10
ACCESS_TTL_S = 1.0  # GAMIFICATION_ACCESS_TTL_S of these gateways: rights are at most this old
ATTACKER_ORIGIN = "http://localhost:3000"  # the dev server of another project on the same machine


@sync_to_async
def make_user(*, can_change: bool = False) -> User:
    user = User.objects.create_user(f"user-{uuid.uuid4().hex[:8]}")
    if can_change:
        user.user_permissions.add(Permission.objects.get(codename="change_councilor"))
    return user


@sync_to_async
def session_cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


@asynccontextmanager
async def browser(port: int, *, cookie: str, origin: str, **headers: str) -> AsyncIterator[ClientConnection]:
    """A browser tab on `origin` opening ws://localhost:<port> with the user's session cookie."""
    url = f"ws://localhost:{port}/ws/gamification"
    async with connect(
        url, origin=origin, additional_headers={"Cookie": cookie, **headers}, open_timeout=TIMEOUT, ping_interval=None
    ) as ws:
        yield ws


@asynccontextmanager
async def program(port: int, token: str) -> AsyncIterator[ClientConnection]:
    url = f"ws://127.0.0.1:{port}/ws/gamification?token={token}"
    async with connect(url, open_timeout=TIMEOUT, ping_interval=None) as ws:
        yield ws


async def receive(ws: ClientConnection) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))


async def command(ws: ClientConnection, message: dict) -> dict:
    """Send a command; its reply (events broadcast meanwhile are skipped)."""
    await ws.send(json.dumps({**message, "request_id": "r"}))
    while (reply := await receive(ws))["id"] is not None or reply["data"].get("request_id") != "r":
        pass
    return reply


async def closed(ws: ClientConnection) -> tuple[int, str]:
    """Read until the server closes: its code and reason."""
    with pytest.raises(ConnectionClosed) as error:
        while True:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
    return error.value.rcvd.code, error.value.rcvd.reason


@sync_to_async
def enabled(councilor: Councilor) -> bool:
    return Councilor.objects.get(pk=councilor.pk).enabled


@pytest.fixture
def gateway(tmp_path):
    env = {"GAMIFICATION_ACCESS_TTL_S": str(ACCESS_TTL_S)}
    with daphne(log_path=tmp_path / "daphne.log", **env) as (_, port):
        yield port


async def test_a_page_on_another_port_cannot_ride_on_the_session_cookie_to_pause_a_councilor(gateway, councilor):
    cookie = await session_cookie(await make_user(can_change=True))
    own = f"http://localhost:{gateway}"
    attempts = {
        "another port": (ATTACKER_ORIGIN, {}),
        "a forwarded host": (ATTACKER_ORIGIN, {"X-Forwarded-Host": "localhost:3000"}),
        "a forwarded proto": (f"https://localhost:{gateway}", {"X-Forwarded-Proto": "https"}),
    }
    for name, (origin, headers) in attempts.items():
        with pytest.raises(InvalidStatus) as refused:  # before accept: no socket, no command
            async with browser(gateway, cookie=cookie, origin=origin, **headers):
                pass
        assert refused.value.response.status_code == 403, name
    assert await enabled(councilor)

    async with browser(gateway, cookie=cookie, origin=own) as ws:  # the dashboard itself: same origin
        assert (await receive(ws))["type"] == protocol.CONNECTED
        reply = await command(ws, {"command": protocol.PAUSE_COUNCILOR, "councilor_id": councilor.councilor_id})
    assert reply["type"] == protocol.COUNCILOR_PAUSED
    assert not await enabled(councilor)


async def test_an_origin_in_ws_allowed_origins_may_connect(tmp_path):
    cookie = await session_cookie(await make_user())
    with daphne(log_path=tmp_path / "daphne.log", WS_ALLOWED_ORIGINS=ATTACKER_ORIGIN) as (_, port):
        async with browser(port, cookie=cookie, origin=ATTACKER_ORIGIN) as ws:
            assert (await receive(ws))["type"] == protocol.CONNECTED


async def test_an_open_socket_is_closed_with_4401_when_its_token_expires(gateway):
    user = await make_user()
    token = token_mint(user=user, ttl_seconds=2)
    expires_at = jwt.decode(token, options={"verify_signature": False})["exp"]
    async with program(gateway, token) as ws:
        assert (await receive(ws))["type"] == protocol.CONNECTED
        assert (await command(ws, {"command": "ping"}))["type"] == "pong"  # valid until then
        assert await closed(ws) == (protocol.CloseCode.UNAUTHORIZED, protocol.CloseCode.UNAUTHORIZED.reason)
    assert time.time() >= expires_at


async def test_a_revoked_permission_makes_the_next_control_command_forbidden_within_the_ttl(gateway, councilor):
    user = await make_user(can_change=True)
    pause = {"command": protocol.PAUSE_COUNCILOR, "councilor_id": councilor.councilor_id}
    async with program(gateway, token_mint(user=user)) as ws:
        assert (await receive(ws))["type"] == protocol.CONNECTED
        assert (await command(ws, pause))["type"] == protocol.COUNCILOR_PAUSED

        await sync_to_async(user.user_permissions.clear)()
        revoked_at = time.monotonic()
        # The gateway may answer from what it knew for up to ACCESS_TTL_S; ask until it says no.
        while (reply := await command(ws, pause))["type"] != protocol.ERROR:
            assert time.monotonic() - revoked_at <= ACCESS_TTL_S + 1.0, "the revoked permission still works"
            await asyncio.sleep(0.1)
        assert reply["data"]["code"] == protocol.FORBIDDEN
        assert (await command(ws, {"command": "ping"}))["type"] == "pong"  # the socket itself stays


async def test_a_deactivated_user_s_sockets_are_closed_with_4401_and_new_ones_refused(gateway):
    user, bystander = await make_user(), await make_user()
    token = token_mint(user=user)
    cookie = await session_cookie(user)
    async with (
        program(gateway, token) as by_token,
        browser(gateway, cookie=cookie, origin=f"http://localhost:{gateway}") as by_session,
        program(gateway, token_mint(user=bystander)) as other,
    ):
        for ws in (by_token, by_session, other):
            assert (await receive(ws))["type"] == protocol.CONNECTED
        user.is_active = False
        await sync_to_async(user.save)()

        unauthorized = (protocol.CloseCode.UNAUTHORIZED, protocol.CloseCode.UNAUTHORIZED.reason)
        assert await closed(by_token) == unauthorized
        assert await closed(by_session) == unauthorized
        async with program(gateway, token) as again:  # the token has not expired, the user has
            assert await closed(again) == unauthorized
        assert (await command(other, {"command": "ping"}))["type"] == "pong"


async def test_the_limit_per_user_counts_the_sockets_on_every_gateway(tmp_path):
    user = await make_user()
    token = token_mint(user=user)
    limit = {"GAMIFICATION_WS_MAX_PER_USER": "2"}
    with (
        daphne(log_path=tmp_path / "daphne-a.log", **limit) as (_, port_a),
        daphne(log_path=tmp_path / "daphne-b.log", **limit) as (_, port_b),
    ):
        async with program(port_a, token) as on_a, program(port_b, token) as on_b:
            for ws in (on_a, on_b):
                assert (await receive(ws))["type"] == protocol.CONNECTED
            for port in (port_a, port_b):
                async with program(port, token) as third:
                    assert await closed(third) == (
                        protocol.CloseCode.TOO_MANY_CONNECTIONS,
                        protocol.CloseCode.TOO_MANY_CONNECTIONS.reason,
                    )
            assert (await command(on_a, {"command": "ping"}))["type"] == "pong"
            assert (await command(on_b, {"command": "ping"}))["type"] == "pong"
