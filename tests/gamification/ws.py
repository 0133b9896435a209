"""WebSocket clients of the real ASGI application (routing, origin check, session and token auth)."""

import itertools
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Permission, User
from django.test import Client

from conductor.asgi import application
from infrastructure.tokens import token_mint

# A browser on the gateway's own page: the Origin is the scheme, host and port of the Host it connects to.
HOST = (b"host", b"127.0.0.1:8000")
ORIGIN = (b"origin", b"http://127.0.0.1:8000")
BROWSER = (HOST, ORIGIN)
ALERT = {"level": "info", "message": "hello", "source": "tests"}
TIMEOUT = 5


def _user(username: str, *, staff: bool = False, can_change: bool = False) -> User:
    user = User.objects.create_user(username, password="pw", is_staff=staff)
    if can_change:
        user.user_permissions.add(Permission.objects.get(codename="change_councilor"))
    return user


_numbers = itertools.count(1)


async def make_user(username: str = "", **kwargs: bool) -> User:
    return await sync_to_async(_user)(username or f"viewer{next(_numbers)}", **kwargs)


async def token_for(user: User) -> str:
    return token_mint(user=user)


@sync_to_async
def session_cookie(user: User) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


@asynccontextmanager
async def socket(
    path: str = "/ws/gamification", *, headers=BROWSER, connected: bool = True
) -> AsyncIterator[WebsocketCommunicator]:
    """An accepted connection (past its `connected` message unless `connected=False`), always disconnected."""
    communicator = WebsocketCommunicator(application, path, headers=list(headers))
    try:
        accepted, _ = await communicator.connect(timeout=TIMEOUT)
        assert accepted
        if connected:
            hello = await communicator.receive_json_from(timeout=TIMEOUT)
            assert hello["type"] == "connected"
        yield communicator
    finally:
        await communicator.disconnect()


async def authed(user: User | None = None, **kwargs: Any) -> AbstractAsyncContextManager[WebsocketCommunicator]:
    """`socket` authenticated with a `?token=` of `user` (a new one by default)."""
    user = user or await make_user()
    return socket(f"/ws/gamification?token={await token_for(user)}", **kwargs)


async def send(communicator: WebsocketCommunicator, message: Any) -> dict:
    await communicator.send_json_to(message)
    return await communicator.receive_json_from(timeout=TIMEOUT)


async def expect_error(communicator: WebsocketCommunicator, message: Any, code: str) -> dict:
    if isinstance(message, str):
        await communicator.send_to(text_data=message)
        reply = await communicator.receive_json_from(timeout=TIMEOUT)
    else:
        reply = await send(communicator, message)
    assert reply["type"] == "error", reply
    assert reply["data"]["code"] == code
    assert reply["id"] is None
    return reply
