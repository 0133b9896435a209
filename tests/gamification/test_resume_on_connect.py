"""`?since=<id>` in the URL: the resume done in the handshake (docs/protocol.md, "Resume on connect")."""

import asyncio

import pytest

from gamification import protocol
from gamification.events import aemit
from tests.gamification.ws import TIMEOUT, authed, make_user, send, socket, token_for
from tests.layer import unreachable_layer

pytestmark = pytest.mark.django_db(transaction=True)


def alert(n: int) -> dict:
    return {"level": "info", "message": f"m{n}", "source": "tests"}


async def since_url(since: str | int, **extra: str) -> str:
    query = "&".join(f"{name}={value}" for name, value in {"since": since, **extra}.items())
    return f"/ws/gamification?token={await token_for(await make_user())}&{query}"


async def frames_until(ws, last_id: int) -> list[dict]:
    """Every frame up to the event with id `last_id`."""
    frames = []
    while not frames or frames[-1]["id"] != last_id:
        frames.append(await ws.receive_json_from(timeout=TIMEOUT))
    return frames


async def test_the_missed_events_come_right_after_connected_which_counts_them_then_live_ones():
    seen = await aemit("system_alert", alert(0))
    missed = [await aemit("system_alert", alert(1)), await aemit("councilor_paused", PAUSED)]
    async with socket(await since_url(seen["id"]), connected=False) as ws:
        hello = await ws.receive_json_from(timeout=TIMEOUT)
        replayed = [await ws.receive_json_from(timeout=TIMEOUT) for _ in missed]
        live = await aemit("system_alert", alert(2))
        assert await ws.receive_json_from(timeout=TIMEOUT) == live
        assert await ws.receive_nothing(timeout=0.2)
    assert hello["type"] == protocol.CONNECTED
    assert hello["data"]["replayed"] == 2 and hello["data"]["complete"] is True
    assert hello["data"]["last_id"] == missed[-1]["id"]
    assert replayed == missed


PAUSED = {"councilor_id": "sec", "success": True, "by": "admin"}


async def test_no_live_event_overtakes_the_replay_and_none_comes_twice_while_events_keep_coming():
    seen = await aemit("system_alert", alert(0))
    for n in range(1, 30):
        await aemit("system_alert", alert(n))
    emitting_done = asyncio.Event()
    emitted: list[int] = []

    async def emit_meanwhile() -> None:
        for n in range(30, 90):
            emitted.append((await aemit("system_alert", alert(n)))["id"])
            await asyncio.sleep(0)
        emitting_done.set()

    emitter = asyncio.create_task(emit_meanwhile())
    async with socket(await since_url(seen["id"]), connected=False) as ws:
        hello = await ws.receive_json_from(timeout=TIMEOUT)
        await emitting_done.wait()
        frames = await frames_until(ws, emitted[-1])
    await emitter
    assert hello["data"]["complete"] is True and hello["data"]["replayed"] >= 29
    assert [frame["id"] for frame in frames] == list(range(seen["id"] + 1, emitted[-1] + 1))


async def test_an_up_to_date_client_gets_connected_with_nothing_replayed():
    newest = await aemit("system_alert", alert(0))
    async with socket(await since_url(newest["id"]), connected=False) as ws:
        hello = await ws.receive_json_from(timeout=TIMEOUT)
        assert await ws.receive_nothing(timeout=0.2)
    assert (hello["data"]["replayed"], hello["data"]["complete"]) == (0, True)


async def test_without_since_connected_says_nothing_of_a_replay():
    async with await authed(connected=False) as ws:
        hello = await ws.receive_json_from(timeout=TIMEOUT)
    assert set(hello["data"]) == {"message", "client_id", "last_id"}


async def test_complete_is_false_past_the_bound(settings):
    settings.GAMIFICATION_HISTORY_SIZE = 3
    sent = [await aemit("system_alert", alert(n)) for n in range(6)]
    async with socket(await since_url(sent[0]["id"]), connected=False) as ws:
        hello = await ws.receive_json_from(timeout=TIMEOUT)
        replayed = [await ws.receive_json_from(timeout=TIMEOUT) for _ in range(3)]
    assert (hello["data"]["replayed"], hello["data"]["complete"]) == (3, False)
    assert replayed == sent[3:]


async def test_a_replay_longer_than_the_outbox_is_delivered_whole(settings):
    settings.GAMIFICATION_WS_OUTBOX_FRAMES = 4
    seen = await aemit("system_alert", alert(0))
    sent = [await aemit("system_alert", alert(n)) for n in range(1, 12)]
    async with socket(await since_url(seen["id"]), connected=False) as ws:
        hello = await ws.receive_json_from(timeout=TIMEOUT)
        replayed = await frames_until(ws, sent[-1]["id"])
    assert hello["data"]["replayed"] == 11
    assert replayed == sent


@pytest.mark.parametrize("since", ["abc", "-1", "1.5", "", "1" * 19, "٣"])
async def test_a_bad_since_gets_connected_unresumed_an_error_and_the_connection_carries_on(since):
    async with socket(await since_url(since), connected=False) as ws:
        hello = await ws.receive_json_from(timeout=TIMEOUT)
        error = await ws.receive_json_from(timeout=TIMEOUT)
        assert (await send(ws, {"command": "ping"}))["type"] == protocol.PONG
        live = await aemit("system_alert", alert(0))
        assert await ws.receive_json_from(timeout=TIMEOUT) == live
    assert (hello["data"]["replayed"], hello["data"]["complete"]) == (0, False)
    assert error["type"] == protocol.ERROR and error["data"]["code"] == protocol.INVALID_FIELD
    assert "since" in error["data"]["message"]


async def test_two_since_values_are_refused_as_ambiguous():
    url = await since_url(1) + "&since=2"
    async with socket(url, connected=False) as ws:
        await ws.receive_json_from(timeout=TIMEOUT)
        error = await ws.receive_json_from(timeout=TIMEOUT)
    assert error["data"]["code"] == protocol.INVALID_FIELD


async def test_with_the_history_off_connected_is_unresumed_and_says_why(settings):
    settings.GAMIFICATION_HISTORY_ENABLED = False
    async with socket(await since_url(1), connected=False) as ws:
        hello = await ws.receive_json_from(timeout=TIMEOUT)
        error = await ws.receive_json_from(timeout=TIMEOUT)
    assert (hello["data"]["replayed"], hello["data"]["complete"]) == (0, False)
    assert error["data"] == {"code": protocol.HISTORY_UNAVAILABLE, "message": protocol.MSG_HISTORY_UNAVAILABLE}


async def test_when_redis_is_unreachable_the_connection_is_unresumed_and_carries_on(settings, tmp_path):
    url = await since_url(1)
    async with await authed():  # the hub has joined (and learnt the newest id) while Redis answered
        working = settings.CHANNEL_LAYERS
        settings.CHANNEL_LAYERS = unreachable_layer(tmp_path)
        try:
            async with socket(url, connected=False) as ws:
                hello = await ws.receive_json_from(timeout=TIMEOUT)
                error = await ws.receive_json_from(timeout=TIMEOUT)
                assert (await send(ws, {"command": "ping"}))["type"] == protocol.PONG
        finally:
            settings.CHANNEL_LAYERS = working
    assert (hello["data"]["replayed"], hello["data"]["complete"]) == (0, False)
    assert error["data"]["code"] == protocol.HISTORY_UNAVAILABLE
