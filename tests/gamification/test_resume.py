"""`resume` through the real ASGI application: replay, `resumed`, the seam with live events, bad input."""

import pytest

from gamification import history, protocol
from gamification.events import aemit
from gamification.resume import ResumeSeam
from tests.gamification.ws import TIMEOUT, authed, expect_error, send
from tests.layer import unreachable_layer

pytestmark = pytest.mark.django_db(transaction=True)

PAUSED = {"councilor_id": "sec", "success": True, "by": "admin"}


def alert(n: int) -> dict:
    return {"level": "info", "message": f"m{n}", "source": "tests"}


async def receive_until_resumed(ws) -> tuple[list[dict], dict]:
    frames = []
    while True:
        frame = await ws.receive_json_from(timeout=TIMEOUT)
        if frame["type"] == "resumed":
            return frames, frame
        frames.append(frame)


async def test_connected_carries_the_newest_id():
    newest = await aemit("system_alert", alert(0))
    async with await authed(connected=False) as ws:
        hello = await ws.receive_json_from(timeout=TIMEOUT)
    assert hello["data"]["last_id"] == newest["id"] == await history.newest_id()


async def test_resume_replays_the_missed_events_of_the_topics_in_order_then_resumed_then_live():
    seen = await aemit("system_alert", alert(0))
    missed = [await aemit("system_alert", alert(1)), await aemit("councilor_paused", PAUSED)]
    missed.append(await aemit("system_alert", alert(2)))
    async with await authed() as ws:
        await send(ws, {"command": "subscribe", "topics": ["system_alert"]})
        await ws.send_json_to({"command": "resume", "since": seen["id"], "request_id": 7})
        replayed, resumed = await receive_until_resumed(ws)
        live = await aemit("system_alert", alert(3))
        assert await ws.receive_json_from(timeout=TIMEOUT) == live
        assert await ws.receive_nothing(timeout=0.2)
    assert replayed == [missed[0], missed[2]]
    assert resumed["data"] == {"since": seen["id"], "replayed": 2, "complete": True, "request_id": 7}
    assert resumed["id"] is None


async def test_an_up_to_date_client_gets_an_empty_complete_resume():
    async with await authed(connected=False) as ws:
        last_id = (await ws.receive_json_from(timeout=TIMEOUT))["data"]["last_id"]
        reply = await send(ws, {"command": "resume", "since": last_id})
    assert reply["type"] == "resumed"
    assert reply["data"] == {"since": last_id, "replayed": 0, "complete": True}


async def test_events_already_sent_live_on_this_connection_are_not_replayed():
    seen = await aemit("system_alert", alert(0))
    missed = await aemit("system_alert", alert(1))
    async with await authed() as ws:
        live = await aemit("system_alert", alert(2))
        assert await ws.receive_json_from(timeout=TIMEOUT) == live
        await ws.send_json_to({"command": "resume", "since": seen["id"]})
        replayed, resumed = await receive_until_resumed(ws)
        later = await aemit("system_alert", alert(3))
        assert await ws.receive_json_from(timeout=TIMEOUT) == later
    assert replayed == [missed]
    assert resumed["data"]["complete"] is True


async def test_complete_is_false_past_the_bound(settings):
    settings.GAMIFICATION_HISTORY_SIZE = 3
    sent = [await aemit("system_alert", alert(n)) for n in range(6)]
    async with await authed() as ws:
        await ws.send_json_to({"command": "resume", "since": sent[0]["id"]})
        replayed, resumed = await receive_until_resumed(ws)
    assert replayed == sent[3:]
    assert resumed["data"] == {"since": sent[0]["id"], "replayed": 3, "complete": False}


async def test_a_replay_longer_than_the_outbox_is_delivered_whole(settings):
    settings.GAMIFICATION_WS_OUTBOX_FRAMES = 4
    seen = await aemit("system_alert", alert(0))
    sent = [await aemit("system_alert", alert(n)) for n in range(1, 12)]
    async with await authed() as ws:
        await ws.send_json_to({"command": "resume", "since": seen["id"]})
        replayed, resumed = await receive_until_resumed(ws)
    assert replayed == sent
    assert resumed["data"]["replayed"] == 11


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ({"command": "resume"}, protocol.MISSING_FIELD),
        ({"command": "resume", "since": "5"}, protocol.INVALID_FIELD),
        ({"command": "resume", "since": -1}, protocol.INVALID_FIELD),
        ({"command": "resume", "since": 1.5}, protocol.INVALID_FIELD),
        ({"command": "resume", "since": True}, protocol.INVALID_FIELD),
        ({"command": "resume", "since": None}, protocol.INVALID_FIELD),
    ],
)
async def test_a_bad_since_gets_an_error_and_the_connection_carries_on(message, code):
    async with await authed() as ws:
        reply = await expect_error(ws, message, code)
        assert "since" in reply["data"]["message"]
        assert (await send(ws, {"command": "ping"}))["type"] == "pong"


async def test_with_the_history_off_resume_says_it_is_unavailable(settings):
    settings.GAMIFICATION_HISTORY_ENABLED = False
    async with await authed(connected=False) as ws:
        assert (await ws.receive_json_from(timeout=TIMEOUT))["data"]["last_id"] == 0
        reply = await expect_error(ws, {"command": "resume", "since": 1}, protocol.HISTORY_UNAVAILABLE)
    assert reply["data"]["message"] == protocol.MSG_HISTORY_UNAVAILABLE


def test_the_seam_holds_live_frames_during_a_replay_and_drops_those_it_covered():
    seam = ResumeSeam()
    assert seam.hold() is None  # nothing live yet: replay up to the newest
    for event_id in (9, 10, 11):
        assert seam.admit(f"f{event_id}", event_id) is False
    assert seam.release(replayed_through=10) == ["f11"]
    assert seam.admit("f12", 12) is True
    assert seam.admit("f10-late", 10) is False
    assert seam.hold() == 10  # live since 11: a later replay stops before it
    assert seam.release() == []
    assert seam.admit("reply", None) is True


async def test_when_redis_is_unreachable_resume_says_so_and_the_connection_carries_on(settings, tmp_path):
    async with await authed() as ws:
        working = settings.CHANNEL_LAYERS
        settings.CHANNEL_LAYERS = unreachable_layer(tmp_path)
        await expect_error(ws, {"command": "resume", "since": 1}, protocol.HISTORY_UNAVAILABLE)
        settings.CHANNEL_LAYERS = working
        live = await aemit("system_alert", alert(0))
        assert await ws.receive_json_from(timeout=TIMEOUT) == live
