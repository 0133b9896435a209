"""The WebSocket middleware: same-origin check (a missing Origin let through), `?token=` users, session users."""

import asyncio
from typing import Any

import jwt
import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.sessions.models import Session
from django.core.exceptions import ImproperlyConfigured

from conductor.asgi import application
from gamification import access, middleware, protocol
from gamification import session_users as session_users_module
from gamification.access import access_cache
from gamification.middleware import (
    MSG_BAD_ALLOWED_ORIGIN,
    SCOPE_AUTH,
    SCOPE_DAPHNE_PROTOCOL,
    SCOPE_HAS_ORIGIN,
    SCOPE_SERVER_SEND,
    SCOPE_TOKEN_EXPIRES_AT,
    ConnectionUserMiddleware,
    OriginMiddleware,
    parse_origin,
)
from infrastructure.tokens import token_mint
from tests.gamification.ws import BROWSER, TIMEOUT, authed, make_user, send, session_cookie, socket, token_for

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


async def through_user_middleware(*, query: str = "", cookie: bytes = b"", has_origin: bool | None = True) -> dict:
    """The scope ConnectionUserMiddleware hands on, for a connection with this query, cookie and Origin."""
    inner_scopes: list[dict] = []

    async def inner(scope: dict, receive: Any, send: Any) -> None:
        inner_scopes.append(scope)

    scope: dict[str, Any] = {"type": "websocket", "query_string": query.encode(), "headers": []}
    if cookie:
        scope["headers"].append((b"cookie", cookie))
    if has_origin is not None:
        scope[SCOPE_HAS_ORIGIN] = has_origin
    await ConnectionUserMiddleware(inner)(scope, None, None)
    (handed_on,) = inner_scopes
    return handed_on


# OriginMiddleware ------------------------------------------------------------------------------


async def test_an_allowed_origin_is_let_through_and_marked():
    accepted, inner = await connect_through_origin_check(list(BROWSER))
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


# ConnectionUserMiddleware -----------------------------------------------------------------------


async def test_a_valid_token_s_user_is_the_connection_s_user():
    user = await make_user()
    scope = await through_user_middleware(query=f"token={token_mint(user=user)}", has_origin=False)
    assert (scope["user"].pk, scope[SCOPE_AUTH]) == (user.pk, "token")


async def test_a_bad_token_leaves_the_connection_anonymous_even_with_a_session_cookie():
    session_user = await make_user()
    cookie = await session_cookie(session_user)
    expired = token_mint(user=session_user, ttl_seconds=-10)
    for token in ("garbage", expired):
        scope = await through_user_middleware(query=f"token={token}", cookie=cookie)
        assert scope["user"].is_authenticated is False and scope[SCOPE_AUTH] is None


async def test_a_session_user_with_an_origin_is_kept():
    user = await make_user()
    scope = await through_user_middleware(cookie=await session_cookie(user), has_origin=True)
    assert (scope["user"].pk, scope[SCOPE_AUTH]) == (user.pk, "session")


async def test_a_session_user_without_an_origin_is_dropped():
    scope = await through_user_middleware(cookie=await session_cookie(await make_user()), has_origin=False)
    assert scope["user"].is_authenticated is False and scope[SCOPE_AUTH] is None


async def test_no_credentials_at_all_or_an_unknown_session_is_anonymous():
    for cookie in (b"", b"sessionid=made-up", b"other=1"):
        scope = await through_user_middleware(cookie=cookie)
        assert scope["user"].is_authenticated is False and scope[SCOPE_AUTH] is None


async def test_a_deactivated_user_s_token_is_refused():
    user = await make_user()
    token = token_mint(user=user)
    user.is_active = False
    await sync_to_async(user.save)()
    scope = await through_user_middleware(query=f"token={token}")
    assert scope[SCOPE_AUTH] is None


async def test_many_sockets_of_one_token_user_cost_one_database_load(monkeypatch, settings):
    settings.GAMIFICATION_ACCESS_TTL_S = 60
    user = await make_user()
    token = token_mint(user=user)
    loads = count_calls(monkeypatch, access, "_load")
    scopes = await asyncio.gather(*(through_user_middleware(query=f"token={token}") for _ in range(20)))
    assert {scope["user"].pk for scope in scopes} == {user.pk}
    assert loads == [1]  # one query for twenty concurrent sockets, none for later ones
    await through_user_middleware(query=f"token={token}")
    assert loads == [1]


async def test_many_sockets_of_one_session_cost_one_session_lookup(monkeypatch, settings):
    settings.GAMIFICATION_ACCESS_TTL_S = 60
    user = await make_user()
    cookie = await session_cookie(user)
    lookups = count_calls(monkeypatch, session_users_module, "_look_up")
    scopes = await asyncio.gather(*(through_user_middleware(cookie=cookie) for _ in range(20)))
    assert {scope["user"].pk for scope in scopes} == {user.pk}
    assert lookups == [1]


async def test_a_logout_or_a_password_change_ends_the_session_for_new_sockets_after_one_ttl(settings):
    settings.GAMIFICATION_ACCESS_TTL_S = 60
    user, other = await make_user(), await make_user()
    cookie, other_cookie = await session_cookie(user), await session_cookie(other)
    assert (await through_user_middleware(cookie=cookie))[SCOPE_AUTH] == "session"
    assert (await through_user_middleware(cookie=other_cookie))[SCOPE_AUTH] == "session"
    await sync_to_async(Session.objects.all().delete)()  # every session logged out (flushed)
    user.set_password("changed")
    await sync_to_async(user.save)()
    # Within the TTL the cached answer stands (as for the rights of open sockets) ...
    assert (await through_user_middleware(cookie=other_cookie))[SCOPE_AUTH] == "session"
    settings.GAMIFICATION_ACCESS_TTL_S = 0  # ... and after it, it is looked up again.
    assert (await through_user_middleware(cookie=cookie))[SCOPE_AUTH] is None
    assert (await through_user_middleware(cookie=other_cookie))[SCOPE_AUTH] is None


async def test_a_password_change_alone_ends_a_cached_session_once_the_user_is_reloaded(settings):
    settings.GAMIFICATION_ACCESS_TTL_S = 60
    user = await make_user()
    cookie = await session_cookie(user)
    assert (await through_user_middleware(cookie=cookie))[SCOPE_AUTH] == "session"
    user.set_password("changed")
    await sync_to_async(user.save)()
    await access_cache().refresh([user.pk])  # what the sweep does every TTL
    assert (await through_user_middleware(cookie=cookie))[SCOPE_AUTH] is None


def count_calls(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[int]:
    """Wrap module.name so that it counts its calls; returns the one-element counter."""
    original, calls = getattr(module, name), [0]

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


# Through the whole application ------------------------------------------------------------------


async def test_session_user_with_allowed_origin_is_accepted():
    cookie = await session_cookie(await make_user())
    async with socket(headers=[*BROWSER, (b"cookie", cookie)]) as ws:
        assert (await send(ws, {"command": "ping"}))["type"] == "pong"


async def test_an_invalid_or_expired_token_is_closed_with_4401():
    user = await make_user()
    expired = token_mint(user=user, ttl_seconds=-10)
    for token in ("garbage", expired):
        async with socket(f"/ws/gamification?token={token}", connected=False) as ws:
            closed = await ws.receive_output(timeout=TIMEOUT)
        assert closed["code"] == protocol.CloseCode.UNAUTHORIZED


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
    assert closed["code"] == protocol.CloseCode.UNAUTHORIZED


# Same origin ------------------------------------------------------------------------------------


def host_and_origin(host: str, origin: str, *extra: tuple[bytes, bytes]) -> list[tuple[bytes, bytes]]:
    return [(b"host", host.encode()), (b"origin", origin.encode()), *extra]


@pytest.mark.parametrize(
    "origin",
    [
        "http://127.0.0.1:3000",  # another port of the same host: another site for the browser
        "https://127.0.0.1:8000",  # another scheme
        "http://localhost:8000",  # another name of the same machine
        "http://127.0.0.1",  # the default port, 80
        "null",  # a sandboxed frame or a file
        "http://127.0.0.1:8000/path",
        "http://user@127.0.0.1:8000",
        "ws://127.0.0.1:8000",
    ],
)
async def test_an_origin_other_than_the_request_s_own_is_refused(origin):
    accepted, inner = await connect_through_origin_check(host_and_origin("127.0.0.1:8000", origin))
    assert not accepted and inner.scopes == []


async def test_the_request_s_own_origin_is_let_through_with_default_ports_and_case_normalised(settings):
    settings.ALLOWED_HOSTS = ["app.example.com"]
    for host, origin in [
        ("app.example.com", "http://App.Example.com:80"),
        ("app.example.com:80", "http://app.example.com"),
    ]:
        accepted, _ = await connect_through_origin_check(host_and_origin(host, origin))
        assert accepted, (host, origin)


async def test_a_host_outside_allowed_hosts_is_refused_even_when_the_origin_matches_it():
    accepted, _ = await connect_through_origin_check(host_and_origin("evil.example", "http://evil.example"))
    assert not accepted


async def test_two_origin_headers_are_refused():
    headers = [*BROWSER, (b"origin", b"http://evil.example")]
    accepted, _ = await connect_through_origin_check(headers)
    assert not accepted


async def test_an_origin_of_ws_allowed_origins_is_let_through(settings):
    settings.WS_ALLOWED_ORIGINS = ["https://app.example.com", "http://127.0.0.1:3000"]
    for origin in ("https://app.example.com", "https://app.example.com:443", "http://127.0.0.1:3000"):
        accepted, _ = await connect_through_origin_check(host_and_origin("127.0.0.1:8000", origin))
        assert accepted, origin
    accepted, _ = await connect_through_origin_check(host_and_origin("127.0.0.1:8000", "http://app.example.com"))
    assert not accepted  # the scheme is part of the origin


@pytest.mark.parametrize("entry", ["app.example.com", "https://app.example.com/path", "ftp://app.example.com", "*"])
def test_an_entry_of_ws_allowed_origins_that_is_not_an_origin_stops_start_up(settings, entry):
    settings.WS_ALLOWED_ORIGINS = [entry]
    with pytest.raises(ImproperlyConfigured) as error:
        OriginMiddleware(Inner())
    assert str(error.value) == MSG_BAD_ALLOWED_ORIGIN.format(entry=entry)


async def test_forwarded_host_and_proto_are_ignored_unless_the_settings_say_so(settings):
    behind_proxy = [(b"x-forwarded-host", b"app.example.com"), (b"x-forwarded-proto", b"https")]
    proxied = host_and_origin("127.0.0.1:8000", "https://app.example.com", *behind_proxy)
    settings.ALLOWED_HOSTS = ["127.0.0.1", "app.example.com"]
    assert (await connect_through_origin_check(proxied))[0] is False
    settings.USE_X_FORWARDED_HOST = True
    assert (await connect_through_origin_check(proxied))[0] is False  # still http as far as Django knows
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert (await connect_through_origin_check(proxied))[0] is True
    # The proxy's view replaces the socket's: the direct origin no longer matches.
    direct = host_and_origin("127.0.0.1:8000", "http://127.0.0.1:8000", *behind_proxy)
    assert (await connect_through_origin_check(direct))[0] is False
    settings.USE_X_FORWARDED_HOST = False
    assert (await connect_through_origin_check(proxied))[0] is False


async def test_a_forwarded_header_spelt_with_underscores_is_not_a_forwarded_header(settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1", "app.example.com"]
    settings.USE_X_FORWARDED_HOST = True
    smuggled = host_and_origin("127.0.0.1:8000", "http://app.example.com", (b"x_forwarded_host", b"app.example.com"))
    assert (await connect_through_origin_check(smuggled))[0] is False


async def test_a_secure_socket_s_origin_is_https():
    inner = Inner()
    communicator = WebsocketCommunicator(
        OriginMiddleware(inner), "/ws/gamification", headers=host_and_origin("127.0.0.1:8443", "https://127.0.0.1:8443")
    )
    communicator.scope["scheme"] = "wss"
    accepted, _ = await communicator.connect(timeout=TIMEOUT)
    await communicator.disconnect()
    assert accepted


def test_parse_origin_fills_in_default_ports_and_refuses_what_is_not_an_origin():
    assert parse_origin("https://App.Example.com") == ("https", "app.example.com", 443)
    assert parse_origin("http://[::1]:8000") == ("http", "::1", 8000)
    assert parse_origin("http://example.com:99999") is None
    assert parse_origin("example.com") is None


async def test_a_token_s_expiry_is_in_the_scope():
    user = await make_user()
    token = token_mint(user=user, ttl_seconds=120)
    scope = await through_user_middleware(query=f"token={token}", has_origin=False)
    assert scope[SCOPE_TOKEN_EXPIRES_AT] == jwt.decode(token, options={"verify_signature": False})["exp"]
    session = await through_user_middleware(cookie=await session_cookie(user))
    assert session[SCOPE_TOKEN_EXPIRES_AT] is None  # a session has no expiry here


async def test_a_token_checked_before_is_refused_once_it_has_expired(monkeypatch):
    user = await make_user()
    token = token_mint(user=user, ttl_seconds=60)
    assert (await through_user_middleware(query=f"token={token}"))[SCOPE_AUTH] == "token"  # checked, remembered
    expires = jwt.decode(token, options={"verify_signature": False})["exp"]
    monkeypatch.setattr(middleware.time, "time", lambda: expires + 1)
    assert (await through_user_middleware(query=f"token={token}"))[SCOPE_AUTH] is None
