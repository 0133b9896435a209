"""The WebSocket middleware: Origin check (a missing one let through), `?token=` users, session users."""

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from conductor.asgi import application
from gamification import protocol
from gamification.middleware import (
    SCOPE_AUTH,
    SCOPE_DAPHNE_PROTOCOL,
    SCOPE_HAS_ORIGIN,
    SCOPE_SERVER_SEND,
    OriginMiddleware,
    TokenAuthMiddleware,
)
from infrastructure.tokens import token_mint
from tests.gamification.ws import ORIGIN, TIMEOUT, authed, make_user, send, session_cookie, socket, token_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_thread_connections")]


class Inner:
    """The application behind the middleware: accepts, and keeps the scope it was called with."""

    def __init__(self) -> None:
        self.scopes: list[dict[str, Any]] = []

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        self.scopes.append(scope)
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await receive()  # until the client disconnects


async def connect_through_origin_check(headers: list[tuple[bytes, bytes]]) -> tuple[bool, Inner]:
    inner = Inner()
    communicator = WebsocketCommunicator(OriginMiddleware(inner), "/ws/gamification", headers=headers)
    accepted, _ = await communicator.connect(timeout=TIMEOUT)
    await communicator.disconnect()
    return accepted, inner


async def through_token_auth(*, query: str = "", user: Any = None, has_origin: bool | None = True) -> dict:
    """The scope TokenAuthMiddleware hands on, for a connection with this query, session user and Origin."""
    inner_scopes: list[dict] = []

    async def inner(scope: dict, receive: Any, send: Any) -> None:
        inner_scopes.append(scope)

    scope: dict[str, Any] = {"type": "websocket", "query_string": query.encode(), "user": user or AnonymousUser()}
    if has_origin is not None:
        scope[SCOPE_HAS_ORIGIN] = has_origin
    await TokenAuthMiddleware(inner)(scope, None, None)
    (handed_on,) = inner_scopes
    return handed_on


# OriginMiddleware ------------------------------------------------------------------------------


async def test_an_allowed_origin_is_let_through_and_marked():
    accepted, inner = await connect_through_origin_check([ORIGIN])
    assert accepted
    (scope,) = inner.scopes
    assert scope[SCOPE_HAS_ORIGIN] is True
    assert callable(scope[SCOPE_SERVER_SEND])  # the server's own send, for the outbox
    assert SCOPE_DAPHNE_PROTOCOL not in scope  # not under daphne


async def test_a_foreign_origin_is_refused_before_the_application_sees_it():
    accepted, inner = await connect_through_origin_check([(b"origin", b"http://evil.example")])
    assert not accepted and inner.scopes == []


async def test_a_missing_origin_is_let_through_and_marked_so():
    accepted, inner = await connect_through_origin_check([])
    assert accepted
    assert inner.scopes[0][SCOPE_HAS_ORIGIN] is False


# TokenAuthMiddleware ----------------------------------------------------------------------------


async def test_a_valid_token_s_user_is_the_connection_s_user():
    user = await make_user()
    scope = await through_token_auth(query=f"token={token_mint(user=user)}", has_origin=False)
    assert (scope["user"].pk, scope[SCOPE_AUTH]) == (user.pk, "token")


async def test_a_bad_token_leaves_the_connection_anonymous_even_with_a_session_user():
    session_user = await make_user()
    expired = token_mint(user=session_user, ttl_seconds=-10)
    for token in ("garbage", expired):
        scope = await through_token_auth(query=f"token={token}", user=session_user)
        assert scope["user"].is_authenticated is False and scope[SCOPE_AUTH] is None


async def test_a_session_user_with_an_origin_is_kept():
    user = await make_user()
    scope = await through_token_auth(user=user, has_origin=True)
    assert (scope["user"], scope[SCOPE_AUTH]) == (user, "session")


async def test_a_session_user_without_an_origin_is_dropped():
    scope = await through_token_auth(user=await make_user(), has_origin=False)
    assert scope["user"].is_authenticated is False and scope[SCOPE_AUTH] is None


async def test_no_credentials_at_all_is_anonymous():
    scope = await through_token_auth()
    assert scope["user"].is_authenticated is False and scope[SCOPE_AUTH] is None


async def test_a_deactivated_user_s_token_is_refused():
    user = await make_user()
    token = token_mint(user=user)
    user.is_active = False
    await sync_to_async(user.save)()
    scope = await through_token_auth(query=f"token={token}")
    assert scope[SCOPE_AUTH] is None


# Through the whole application ------------------------------------------------------------------


async def test_session_user_with_allowed_origin_is_accepted():
    cookie = await session_cookie(await make_user())
    async with socket(headers=[ORIGIN, (b"cookie", cookie)]) as ws:
        assert (await send(ws, {"command": "ping"}))["type"] == "pong"


async def test_an_invalid_or_expired_token_is_closed_with_4401():
    user = await make_user()
    expired = token_mint(user=user, ttl_seconds=-10)
    for token in ("garbage", expired):
        async with socket(f"/ws/gamification?token={token}", connected=False) as ws:
            closed = await ws.receive_output(timeout=TIMEOUT)
        assert closed["code"] == protocol.CLOSE_UNAUTHORIZED


async def test_a_foreign_origin_is_refused_before_accept():
    user = await make_user()
    communicator = WebsocketCommunicator(
        application, f"/ws/gamification?token={await token_for(user)}", headers=[(b"origin", b"http://evil.example")]
    )
    accepted, _ = await communicator.connect(timeout=TIMEOUT)
    assert not accepted
    await communicator.disconnect()


async def test_no_origin_is_accepted_with_a_token():
    async with await authed(headers=()) as ws:
        assert (await send(ws, {"command": "ping"}))["type"] == "pong"


async def test_no_origin_with_only_a_session_cookie_is_closed_with_4401():
    cookie = await session_cookie(await make_user())
    async with socket(headers=[(b"cookie", cookie)], connected=False) as ws:
        closed = await ws.receive_output(timeout=TIMEOUT)
    assert closed["code"] == protocol.CLOSE_UNAUTHORIZED
