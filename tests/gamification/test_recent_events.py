"""Resumes served from the hub's memory of the events it just dispatched (gamification/hub.py, RecentEvents)."""

import json

import pytest

from gamification import history
from gamification.events import aemit
from gamification.hub import RecentEvents, get_hub
from gamification.outbox import Frame
from gamification.shapes import EventFrames
from tests.gamification.ws import TIMEOUT, authed, make_user, socket, token_for

pytestmark = pytest.mark.django_db(transaction=True)

ALL = frozenset({"all"})


def alert(message: str) -> dict:
    return {"level": "info", "message": message, "source": "tests"}


def kept(*ids: int, event_type: str = "system_alert") -> RecentEvents:
    recent = RecentEvents(size=5)
    for event_id in ids:
        recent.add(frames_of(event_id, event_type))
    return recent


def frames_of(event_id: int, event_type: str) -> EventFrames:
    frame = Frame(f"f{event_id}")
    return EventFrames(event_id, event_type, frame, frame)


def texts(replay) -> list[str]:
    return [event.full.text for event in replay.frames]


def test_a_since_within_what_is_kept_is_answered_whole_and_complete():
    replay = kept(10, 11, 12, 13).replay(since=11, topics=ALL, until=None)
    assert (texts(replay), replay.complete, replay.last_id) == (["f12", "f13"], True, 13)
    assert texts(kept(10, 11).replay(since=9, topics=ALL, until=None)) == ["f10", "f11"]  # from the first kept
    up_to_date = kept(10, 11).replay(since=11, topics=ALL, until=None)
    assert (texts(up_to_date), up_to_date.last_id) == ([], 11)


def test_a_since_outside_what_is_kept_goes_to_the_history():
    assert kept(10, 11).replay(since=8, topics=ALL, until=None) is None  # 9 is not kept
    assert kept(10, 11).replay(since=12, topics=ALL, until=None) is None  # newer than this hub knows
    assert RecentEvents(size=5).replay(since=1, topics=ALL, until=None) is None


def test_only_the_newest_are_kept_and_a_hole_starts_afresh():
    assert kept(1, 2, 3, 4, 5, 6, 7).replay(since=1, topics=ALL, until=None) is None  # 2 fell out
    assert texts(kept(1, 2, 3, 4, 5, 6, 7).replay(since=2, topics=ALL, until=None)) == ["f3", "f4", "f5", "f6", "f7"]
    holed = kept(1, 2, 4, 5)
    assert holed.replay(since=2, topics=ALL, until=None) is None
    assert texts(holed.replay(since=3, topics=ALL, until=None)) == ["f4", "f5"]


def test_topics_and_until_narrow_the_replay():
    recent = RecentEvents(size=5)
    for event_id, event_type in [(1, "system_alert"), (2, "councilor_paused"), (3, "system_alert")]:
        recent.add(frames_of(event_id, event_type))
    assert texts(recent.replay(since=0, topics=frozenset({"councilor_paused"}), until=None)) == ["f2"]
    bounded = recent.replay(since=0, topics=ALL, until=2)
    assert (texts(bounded), bounded.last_id) == (["f1", "f2"], 2)


async def test_a_reconnect_within_what_the_hub_kept_costs_no_history_read(monkeypatch):
    async with await authed():  # the hub is up and dispatching
        first = await aemit("system_alert", {"level": "info", "message": "seen", "source": "tests"})
        missed = [
            await aemit("system_alert", {"level": "info", "message": f"m{n}", "source": "tests"}) for n in range(3)
        ]
        hub = get_hub()
        while hub.last_id != missed[-1]["id"]:  # the hub has dispatched them
            async with await authed():
                pass

        async def no_history(**kwargs):
            raise AssertionError("the history was read")

        monkeypatch.setattr(history, "history_since", no_history)
        url = f"/ws/gamification?token={await token_for(await make_user())}&since={first['id']}"
        async with socket(url, connected=False) as ws:
            hello = await ws.receive_json_from(timeout=TIMEOUT)
            replayed = [await ws.receive_json_from(timeout=TIMEOUT) for _ in missed]
    assert (hello["data"]["replayed"], hello["data"]["complete"]) == (3, True)
    assert replayed == missed


async def test_a_hub_that_just_started_remembers_the_history_s_newest_events(monkeypatch):
    before = [await aemit("system_alert", alert(f"before {n}")) for n in range(3)]
    async with await authed():  # this process's hub starts (and joins) now, after those events
        recent = get_hub().recent
    replay = recent.replay(since=before[0]["id"], topics=ALL, until=None)
    assert replay is not None and replay.complete
    assert [json.loads(event.full.text) for event in replay.frames] == before[1:]
