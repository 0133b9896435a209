"""Open sockets follow the session and the token they were opened with, against a real daphne gateway.

docs/protocol.md, "A socket's rights follow its user": a session-authenticated socket closes
(4401) within GAMIFICATION_ACCESS_TTL_S of a logout, the session's expiry or a password change,
and refuses control commands at once once its session is gone; a token socket closes within the
TTL when its user's token generation moves on (a password change).
"""

import json
import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from gamification import protocol
from infrastructure.tokens import token_mint
from tests.hostile.test_ws_access import (
    ACCESS_TTL_S,
    browser,
    closed,
    command,
    enabled,
    make_user,
    program,
    receive,
)
from tests.processes import daphne

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("private_channel_prefix"),
]

UNAUTHORIZED = (protocol.CloseCode.UNAUTHORIZED, protocol.CloseCode.UNAUTHORIZED.reason)
# Within the TTL: the sweep runs twice per TTL; the margin is for a machine shared with other work.
WITHIN_TTL_S = ACCESS_TTL_S + 1.0


@pytest.fixture
def gateway(tmp_path):
    with daphne(log_path=tmp_path / "daphne.log", GAMIFICATION_ACCESS_TTL_S=str(ACCESS_TTL_S)) as (_, port):
        yield port


@sync_to_async
def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def cookie_of(client: Client) -> str:
    return f"sessionid={client.cookies['sessionid'].value}"


@sync_to_async
def log_out(client: Client) -> None:
    client.logout()  # django.contrib.auth.logout on that session: flushed


@sync_to_async
def change_password(user: User) -> None:
    user.set_password("a new password, 2026")
    user.save()


async def closes_within_ttl(ws, since: float) -> None:
    assert await closed(ws) == UNAUTHORIZED
    assert time.monotonic() - since <= WITHIN_TTL_S


async def test_a_session_socket_closes_with_4401_within_the_ttl_of_logout(gateway):
    user = await make_user()
    session, other_session = await logged_in(user), await logged_in(user)
    origin = f"http://localhost:{gateway}"
    async with (
        browser(gateway, cookie=cookie_of(session), origin=origin) as ws,
        browser(gateway, cookie=cookie_of(other_session), origin=origin) as other_tab,
    ):
        for socket in (ws, other_tab):
            assert (await receive(socket))["type"] == protocol.CONNECTED
        await log_out(session)
        await closes_within_ttl(ws, time.monotonic())
        assert (await command(other_tab, {"command": "ping"}))["type"] == "pong"  # another session of the user


async def test_a_session_socket_closes_with_4401_within_the_ttl_of_the_session_s_expiry(gateway):
    session = await logged_in(await make_user())
    async with browser(gateway, cookie=cookie_of(session), origin=f"http://localhost:{gateway}") as ws:
        assert (await receive(ws))["type"] == protocol.CONNECTED
        key = session.cookies["sessionid"].value
        await sync_to_async(Session.objects.filter(session_key=key).update)(
            expire_date=timezone.now() - timedelta(seconds=1)
        )
        await closes_within_ttl(ws, time.monotonic())


async def test_a_password_change_closes_the_user_s_session_and_token_sockets_within_the_ttl(gateway):
    """Every one of them: Django ends the user's other sessions, and gives the one that made the
    change a new key (`update_session_auth_hash` cycles it), which the browser's next socket uses."""
    user, bystander = await make_user(), await make_user()
    origin = f"http://localhost:{gateway}"
    async with (
        browser(gateway, cookie=cookie_of(await logged_in(user)), origin=origin) as by_session,
        program(gateway, token_mint(user=user)) as by_token,
        program(gateway, token_mint(user=bystander)) as other,
    ):
        for socket in (by_session, by_token, other):
            assert (await receive(socket))["type"] == protocol.CONNECTED
        await change_password(user)
        changed_at = time.monotonic()
        await closes_within_ttl(by_session, changed_at)
        await closes_within_ttl(by_token, changed_at)  # the token's generation moved on
        assert (await command(other, {"command": "ping"}))["type"] == "pong"


async def test_after_logout_a_control_command_is_refused_at_once_without_waiting_for_the_sweep(tmp_path, councilor):
    user = await make_user(can_change=True)
    session = await logged_in(user)
    pause = {"command": protocol.PAUSE_COUNCILOR, "councilor_id": councilor.councilor_id}
    # A TTL of a minute: no sweep comes in time, only the check the command itself makes.
    with daphne(log_path=tmp_path / "daphne.log", GAMIFICATION_ACCESS_TTL_S="60") as (_, port):
        async with browser(port, cookie=cookie_of(session), origin=f"http://localhost:{port}") as ws:
            assert (await receive(ws))["type"] == protocol.CONNECTED
            assert (await command(ws, {"command": "ping"}))["type"] == "pong"
            await log_out(session)
            await ws.send(json.dumps(pause))
            started = time.monotonic()
            assert await closed(ws) == UNAUTHORIZED  # no reply: the socket is closed instead
            assert time.monotonic() - started < 5
    assert await enabled(councilor)
