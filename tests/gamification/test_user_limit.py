"""At most GAMIFICATION_WS_MAX_PER_USER sockets per user: leases in Redis, through the real ASGI application."""

from contextlib import AsyncExitStack

import pytest
from channels.testing import WebsocketCommunicator

from gamification import protocol
from gamification.presence import instance_id
from gamification.user_limit import LEASE_S, UserSockets, _user_key
from tests.gamification.ws import BROWSER, TIMEOUT, authed, make_user, send, session_cookie, socket

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("close_thread_connections", "private_channel_prefix"),
]

MAX = 20  # the default of GAMIFICATION_WS_MAX_PER_USER


async def closed_with(ws: WebsocketCommunicator) -> tuple[int, str]:
    """The close the server sent first thing after the accept (no `connected` before it)."""
    message = await ws.receive_output(timeout=TIMEOUT)
    assert message["type"] == "websocket.close", message
    return message["code"], message.get("reason", "")


async def test_the_21st_socket_of_a_user_is_closed_with_4429_and_the_others_carry_on():
    user, other = await make_user(), await make_user()
    async with AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(await authed(user)) for _ in range(MAX)]

        async with await authed(user, connected=False) as extra:
            code, reason = await closed_with(extra)
        assert (code, reason) == (
            protocol.CloseCode.TOO_MANY_CONNECTIONS,
            protocol.CloseCode.TOO_MANY_CONNECTIONS.reason,
        )

        for ws in sockets:  # every one of the twenty is still served
            assert (await send(ws, {"command": "ping"}))["type"] == "pong"
        async with await authed(other) as theirs:  # another user is not affected
            assert (await send(theirs, {"command": "ping"}))["type"] == "pong"

        await sockets.pop().disconnect()
        async with await authed(user) as again:  # one closed: there is room for one more
            assert (await send(again, {"command": "ping"}))["type"] == "pong"
            async with await authed(user, connected=False) as extra:
                assert (await closed_with(extra))[0] == protocol.CloseCode.TOO_MANY_CONNECTIONS


async def test_a_session_and_a_token_count_alike_and_zero_means_no_limit(settings):
    settings.GAMIFICATION_WS_MAX_PER_USER = 1
    user = await make_user()
    cookie = (b"cookie", await session_cookie(user))
    async with socket(headers=[*BROWSER, cookie]):  # the dashboard, by its session
        async with await authed(user, connected=False) as extra:  # a program, by a token of the same user
            assert (await closed_with(extra))[0] == protocol.CloseCode.TOO_MANY_CONNECTIONS
        settings.GAMIFICATION_WS_MAX_PER_USER = 0
        async with await authed(user) as unlimited:
            assert (await send(unlimited, {"command": "ping"}))["type"] == "pong"


async def test_expired_leases_do_not_count(settings, redis_client):
    settings.GAMIFICATION_WS_MAX_PER_USER = 2
    user = await make_user()
    # Two sockets of a gateway that died without giving them back, their leases run out long ago.
    redis_client.zadd(_user_key(user.pk), {"dead-gateway/a": 1, "dead-gateway/b": 2})
    async with await authed(user), await authed(user):
        assert redis_client.zcard(_user_key(user.pk)) == 2


async def test_leases_are_renewed_re_added_after_redis_lost_them_and_given_back_at_close(redis_client):
    user = await make_user()
    sockets = UserSockets()
    assert await sockets.acquire(user_id=user.pk, client_id="c1")
    key = _user_key(user.pk)
    first_expiry = redis_client.zscore(key, f"{instance_id()}/c1")
    redis_client.delete(key)  # Redis restarted without its data

    await sockets.renew()
    renewed = redis_client.zscore(key, f"{instance_id()}/c1")
    assert renewed is not None and renewed >= first_expiry
    assert 0 < redis_client.pttl(key) <= LEASE_S * 1000

    await sockets.release(user_id=user.pk, client_id="c1")
    assert redis_client.zcard(key) == 0
    await sockets.renew()  # nothing held: nothing comes back
    assert redis_client.zcard(key) == 0


async def test_a_lease_is_taken_and_refused_as_before_after_redis_forgot_the_script(settings, redis_client):
    """The lease script goes by its hash; a Redis that does not have it (restarted, failed over) gets its text."""
    settings.GAMIFICATION_WS_MAX_PER_USER = 1
    user = await make_user()
    sockets = UserSockets()
    redis_client.script_flush()
    assert await sockets.acquire(user_id=user.pk, client_id="c1")
    redis_client.script_flush()
    assert not await sockets.acquire(user_id=user.pk, client_id="c2")  # the script ran: the user is at the limit
    assert redis_client.zrange(_user_key(user.pk), 0, -1) == [f"{instance_id()}/c1".encode()]
