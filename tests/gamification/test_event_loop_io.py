"""No blocking I/O on the gateway's event loop: no synchronous Redis command, no database cursor.

One blocking call on the loop stalls every socket of the process (while Redis or the database is
slow, every client waits). The guard below records each synchronous Redis command and each
database query made on a thread that is running an event loop; worker threads
(`database_sync_to_async`) run none, so what they do is not counted. The gateway is then driven
through connect (token and session), every command, a resume in the handshake and by command,
control commands, the access sweep and delivery — and the guard must have recorded nothing.
"""

import asyncio
import traceback
from collections.abc import Iterator

import pytest
import redis
from asgiref.sync import sync_to_async
from django.db.backends.utils import CursorWrapper

from gamification import protocol
from gamification.events import aemit
from gamification.hub import get_hub
from infrastructure.redis_access import redis_sync
from tests.gamification.ws import BROWSER, TIMEOUT, authed, make_user, send, session_cookie, socket, token_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_thread_connections")]

ALERT = {"level": "info", "message": "hello", "source": "tests"}


def _on_an_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@pytest.fixture
def blocking_calls(monkeypatch) -> Iterator[list[str]]:
    """Where a synchronous Redis command or a database query ran on an event-loop thread."""
    seen: list[str] = []

    def guard(owner: type, name: str) -> None:
        original = getattr(owner, name)

        def guarded(*args, **kwargs):
            if _on_an_event_loop():
                seen.append(f"{owner.__name__}.{name}\n" + "".join(traceback.format_stack(limit=12)))
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, guarded)

    guard(redis.connection.AbstractConnection, "send_packed_command")
    guard(CursorWrapper, "_execute")
    guard(CursorWrapper, "_executemany")
    yield seen


def test_the_guard_catches_a_synchronous_redis_command_and_a_query_on_the_loop(blocking_calls):
    from django.contrib.auth.models import User

    async def blocking() -> list[str]:
        redis_sync().ping()
        on_the_loop = [call.splitlines()[0] for call in blocking_calls]
        await sync_to_async(redis_sync().ping)()  # in a worker thread: allowed
        with pytest.MonkeyPatch.context() as patch:  # let Django run a query on the loop, to see it caught
            patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
            User.objects.count()
        return on_the_loop

    redis_on_the_loop = asyncio.run(blocking())
    assert set(redis_on_the_loop) == {"AbstractConnection.send_packed_command"}
    caught = [call.splitlines()[0] for call in blocking_calls]
    assert caught == [*redis_on_the_loop, "CursorWrapper._execute"]  # nothing from the worker thread


async def test_connect_commands_resume_control_sweep_and_delivery_do_no_blocking_io(
    blocking_calls, councilor, settings
):
    settings.GAMIFICATION_ACCESS_TTL_S = 0.2  # let the access sweep run during the test
    operator = await make_user(staff=True, can_change=True)
    seen = await aemit("system_alert", ALERT)
    await aemit("system_alert", ALERT)
    async with (
        await authed(operator) as by_token,
        socket(headers=[*BROWSER, (b"cookie", await session_cookie(await make_user()))]) as by_session,
        socket(f"/ws/gamification?token={await token_for(operator)}&since={seen['id']}", connected=False) as resuming,
    ):
        hello = await resuming.receive_json_from(timeout=TIMEOUT)
        assert hello["data"]["replayed"] == 1
        await resuming.receive_json_from(timeout=TIMEOUT)
        for message, reply in [
            ({"command": "ping"}, protocol.PONG),
            ({"command": "subscribe", "topics": ["all"]}, protocol.SUBSCRIBED),
            ({"command": "get_stats"}, protocol.STATS),
            ({"command": "resume", "since": seen["id"]}, None),
            ({"command": "pause_councilor", "councilor_id": councilor.councilor_id}, "councilor_paused"),
            ({"command": "nonsense"}, protocol.ERROR),
        ]:
            await by_token.send_json_to(message)
            frames = [await by_token.receive_json_from(timeout=TIMEOUT)]
            # Until the reply (id null): a broadcast (pause_councilor's) may come first, through Redis.
            while frames[-1]["id"] is not None or (reply is None and frames[-1]["type"] != protocol.RESUMED):
                frames.append(await by_token.receive_json_from(timeout=TIMEOUT))
            assert reply is None or reply in [frame["type"] for frame in frames], (message, frames)
        await asyncio.sleep(0)
        sweeps_before = get_hub().sweep
        live = await aemit("system_alert", ALERT)
        for ws in (by_session, resuming):
            while (await ws.receive_json_from(timeout=TIMEOUT))["id"] != live["id"]:
                pass
        assert (await send(by_session, {"command": "ping"}))["type"] == protocol.PONG
        await asyncio.wait_for(_a_sweep_ran(sweeps_before), timeout=TIMEOUT)
    assert blocking_calls == []


async def _a_sweep_ran(sweep) -> None:
    """Until the access sweep has completed one more pass (it reloads users through a worker thread)."""
    done = asyncio.Event()
    original = sweep.sweep

    async def counted() -> int:
        revoked = await original()
        done.set()
        return revoked

    sweep.sweep = counted
    try:
        await done.wait()
    finally:
        sweep.sweep = original
