"""The per-process hub: topic index, exactly-once fan-out, gap filling from the history, failing clients."""

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import pytest
from prometheus_client import REGISTRY

from gamification import history
from gamification.catalogue import ALL_TOPICS
from gamification.events import aemit
from gamification.hub import MSG_DELIVERY_FAILED, Hub, get_hub
from gamification.outbox import Frame
from gamification.shapes import EventFrames, event_frames
from tests.gamification.ws import ALERT, TIMEOUT, authed, send
from tests.layer import unreachable_layer

PAUSED = {"councilor_id": "sec", "success": True, "by": "admin"}


@dataclass(eq=False)  # hashed by identity, as the hub's sets need
class FakeClient:
    """A subscriber as the hub sees it (the consumer's side of the contract is tested in test_consumers)."""

    client_id: str
    topics: frozenset[str] = frozenset({ALL_TOPICS})
    fails: bool = False
    abort_fails: bool = False
    received: list[tuple[dict[str, Any], int | None]] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)
    aborted: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    user_id: int | None = None
    may_view_runs: bool = False

    def deliver(self, frame: Frame, event_id: int | None) -> None:
        if self.fails:
            raise ConnectionResetError("the socket broke under the outbox")
        self.received.append((json.loads(frame.text), event_id))
        self.arrived.set()

    def describe(self) -> dict[str, Any]:
        return {"client_id": self.client_id, "topics": sorted(self.topics)}

    def history_lost(self, first_id: int) -> None:
        self.lost.append(first_id)

    def abort(self) -> None:
        self.aborted += 1
        if self.abort_fails:
            raise RuntimeError("closing failed too")

    @property
    def events(self) -> list[dict[str, Any]]:
        return [event for event, _ in self.received]


def envelope(event_type: str = "system_alert", data: dict | None = None, event_id: int | None = 1) -> dict:
    return {"type": event_type, "data": data or ALERT, "timestamp": 1.5, "id": event_id}


def shaped(envelope: dict) -> EventFrames:
    return event_frames(envelope)


async def receive(hub: Hub, envelope: dict, requester: int | None = None) -> None:
    """A live event as the hub's receive loop hands it over, then the gap it opened (if any) filled."""
    hub.on_event(envelope, requester=requester)
    if hub.gap is not None:
        await hub.gap.task


def hub_with(*clients: FakeClient) -> Hub:
    hub = Hub()  # not started: no group membership, no presence heartbeat
    for client in clients:
        hub.add(client)
    return hub


# The topic index and exactly-once -------------------------------------------------------------


async def test_an_event_reaches_the_subscribers_of_its_type_and_of_all_and_no_one_else():
    everything, alerts, paused = FakeClient("a"), FakeClient("b", frozenset({"system_alert"})), FakeClient("c")
    paused.topics = frozenset({"councilor_paused"})
    hub = hub_with(everything, alerts, paused)
    sent = envelope(event_id=7)

    assert hub.dispatch(shaped(sent)) == 2

    assert everything.received == alerts.received == [(sent, 7)]
    assert paused.received == []
    assert hub.topic_counts() == {"all": 1, "system_alert": 1, "councilor_paused": 1}


async def test_a_client_in_all_and_the_event_s_topic_gets_it_exactly_once():
    both = FakeClient("a", frozenset({ALL_TOPICS, "system_alert"}))
    hub = hub_with(both)
    assert hub.dispatch(shaped(envelope())) == 1
    assert len(both.received) == 1


async def test_each_frame_is_encoded_once_as_compact_json_shared_by_every_client():
    frames: list[Frame] = []

    class Recording(FakeClient):
        def deliver(self, frame: Frame, event_id: int | None) -> None:
            frames.append(frame)

    hub = hub_with(Recording("a"), Recording("b", frozenset({"system_alert"})))
    hub.dispatch(shaped(envelope(data={"message": "é"})))
    assert frames[0] is frames[1]
    assert frames[0].text == '{"type":"system_alert","data":{"message":"é"},"timestamp":1.5,"id":1}'


async def test_set_topics_moves_the_client_in_the_index():
    client = FakeClient("a")
    hub = hub_with(client)
    hub.changed.clear()

    hub.set_topics(client, frozenset({"councilor_paused"}))

    assert client.topics == frozenset({"councilor_paused"})
    assert hub.topic_counts() == {"councilor_paused": 1}
    assert hub.changed.is_set()  # presence republishes the counts
    hub.dispatch(shaped(envelope("system_alert")))
    hub.dispatch(shaped(envelope("councilor_paused", PAUSED, 2)))
    assert [event["type"] for event in client.events] == ["councilor_paused"]


async def test_set_topics_of_a_client_not_in_the_hub_only_sets_its_topics():
    hub, outsider = hub_with(), FakeClient("a")
    hub.set_topics(outsider, frozenset({"system_alert"}))
    assert outsider.topics == frozenset({"system_alert"})
    assert hub.topic_counts() == {} and hub.dispatch(shaped(envelope())) == 0


async def test_a_removed_client_gets_nothing_more_and_leaves_the_counts():
    client = FakeClient("a")
    hub = hub_with(client)
    hub.remove(client)
    hub.remove(client)  # twice is harmless (overflow and disconnect both remove)
    assert hub.dispatch(shaped(envelope())) == 0
    assert client.received == [] and hub.topic_counts() == {} and not hub.connections


async def test_delivered_frames_are_counted_per_type():
    before = REGISTRY.get_sample_value("conductor_events_delivered_total", {"type": "councilor_paused"}) or 0
    hub = hub_with(FakeClient("a"), FakeClient("b"))
    hub.dispatch(shaped(envelope("councilor_paused", PAUSED)))
    assert REGISTRY.get_sample_value("conductor_events_delivered_total", {"type": "councilor_paused"}) == before + 2


# A client whose delivery raises ----------------------------------------------------------------


async def test_a_failing_client_is_dropped_and_closed_and_the_others_still_get_the_event(caplog):
    clients = [FakeClient(name) for name in "abcde"]
    hub = hub_with(*clients)
    in_dispatch_order = tuple(hub._by_topic[ALL_TOPICS])
    raiser = in_dispatch_order[1]  # one in the middle: the clients after it must still be served
    raiser.fails = True

    with caplog.at_level(logging.ERROR, logger="gamification.hub"):
        assert hub.dispatch(shaped(envelope(event_id=1))) == 4
        assert hub.dispatch(shaped(envelope(event_id=2))) == 4

    for client in clients:
        if client is not raiser:
            assert [event_id for _, event_id in client.received] == [1, 2]
    assert raiser.received == [] and raiser.aborted == 1
    assert raiser not in hub.connections and hub.topic_counts() == {"all": 4}
    logged = [record for record in caplog.records if record.msg == MSG_DELIVERY_FAILED]
    assert [record.getMessage() for record in logged] == [MSG_DELIVERY_FAILED % raiser.client_id]
    assert logged[0].exc_info is not None  # with the traceback


async def test_a_failing_topic_subscriber_whose_close_fails_too_holds_back_no_one(caplog):
    first, last = FakeClient("a", frozenset({"system_alert"})), FakeClient("c", frozenset({"system_alert"}))
    broken = FakeClient("b", frozenset({"system_alert"}), fails=True, abort_fails=True)
    hub = hub_with(first, broken, last, FakeClient("d"))
    with caplog.at_level(logging.ERROR, logger="gamification.hub"):
        assert hub.dispatch(shaped(envelope())) == 3
    assert len(first.received) == len(last.received) == 1
    assert broken.aborted == 1 and broken not in hub.connections
    assert f"could not close client {broken.client_id}" in caplog.text


# Live events in id order, gaps filled from the history -------------------------------------------


def alert(n: int) -> dict:
    return {**ALERT, "message": f"m{n}"}


@pytest.mark.django_db(transaction=True)
async def test_a_gap_in_the_ids_is_filled_from_the_history_in_order(fresh_history):
    sent = [await aemit("system_alert", alert(n)) for n in range(4)]
    client = FakeClient("a")
    hub = hub_with(client)
    hub.last_id = sent[0]["id"]  # this hub saw the first event live, then missed two

    await receive(hub, sent[3])

    assert client.events == sent[1:]
    assert [event_id for _, event_id in client.received] == [event["id"] for event in sent[1:]]
    assert hub.last_id == sent[3]["id"] and client.lost == []
    await receive(hub, sent[2])  # already sent from the history: not again
    assert len(client.received) == 3


async def test_the_first_live_event_and_events_without_an_id_are_dispatched_as_they_come():
    client = FakeClient("a")
    hub = hub_with(client)
    await receive(hub, envelope(event_id=None))
    await receive(hub, envelope(event_id=40))  # no last id yet: nothing to fill
    assert [event_id for _, event_id in client.received] == [None, 40] and hub.last_id == 40


@pytest.mark.django_db(transaction=True)
async def test_events_the_history_no_longer_has_are_reported_lost_from_the_first_kept_one(fresh_history, settings):
    settings.GAMIFICATION_HISTORY_SIZE = 2
    sent = [await aemit("system_alert", alert(n)) for n in range(5)]  # only the last two are kept
    client, topic_only = FakeClient("a"), FakeClient("b", frozenset({"councilor_paused"}))
    hub = hub_with(client, topic_only)
    hub.last_id = sent[0]["id"]

    await receive(hub, sent[4])

    assert client.events == sent[3:]
    assert client.lost == topic_only.lost == [sent[3]["id"]]  # a later resume from before it is incomplete


@pytest.mark.django_db(transaction=True)
async def test_when_the_history_cannot_be_read_the_gap_is_lost_up_to_the_live_event(fresh_history, settings, tmp_path):
    sent = [await aemit("system_alert", alert(n)) for n in range(3)]
    client = FakeClient("a")
    hub = hub_with(client)
    hub.last_id = sent[0]["id"]
    settings.CHANNEL_LAYERS = unreachable_layer(tmp_path)

    await receive(hub, sent[2])

    assert client.events == [sent[2]] and client.lost == [sent[2]["id"]]


@pytest.mark.django_db(transaction=True)
async def test_a_hub_that_dispatched_ids_a_failover_lost_says_so_for_every_gateway(fresh_history, promote_replica):
    sent = [await aemit("system_alert", alert(n)) for n in range(4)]
    client = FakeClient("a")
    hub = hub_with(client)
    hub.last_id = sent[3]["id"]  # this hub dispatched them all live
    promote_replica(kept_through=sent[1]["id"])  # the new primary never received the last two
    after = await aemit("system_alert", alert(4))

    await receive(hub, after)

    assert client.events == [after] and client.lost == []  # its clients have everything
    # Another gateway, which knows nothing of the lost ids, must not call a resume from before them complete.
    assert (await history.history_since(since=sent[0]["id"], topics={ALL_TOPICS})).complete is False
    assert (await history.history_since(since=sent[3]["id"], topics={ALL_TOPICS})).complete is True


@pytest.mark.django_db(transaction=True)
async def test_while_redis_stalls_a_gap_read_the_clients_behind_it_wait_and_the_others_keep_receiving(
    fresh_history, redis_client, settings
):
    settings.GAMIFICATION_HISTORY_TIMEOUT_S = 10  # longer than the stall: the read waits, then succeeds
    sent = [await aemit("system_alert", alert(n)) for n in range(5)]
    behind, topic_only = FakeClient("behind"), FakeClient("topic", frozenset({"councilor_paused"}))
    hub = hub_with(behind, topic_only)
    hub.last_id = sent[0]["id"]  # this hub missed sent[1]
    # WRITE mode stalls every script (the history's reads are scripts) and leaves plain reads alone.
    redis_client.execute_command("CLIENT", "PAUSE", 5000, "WRITE")
    try:
        hub.on_event(sent[2])  # returns at once: the gap is read by a task of its own
        fill = hub.gap.task
        joined = FakeClient("joined")  # connected after the gap: `connected.last_id` was past it
        hub.add(joined)
        hub.on_event(sent[3])
        hub.on_event(sent[4])
        await asyncio.sleep(0.3)
        assert not fill.done()  # Redis still stalls the read...
        assert joined.events == sent[3:]  # ...and live events go on, to everyone not behind the gap
        assert behind.events == []  # those behind it wait for what they missed
    finally:
        redis_client.execute_command("CLIENT", "UNPAUSE")
    await asyncio.wait_for(fill, TIMEOUT)
    assert behind.events == sent[1:]  # what it missed, then what came meanwhile, in order, once
    assert joined.events == sent[3:] and topic_only.events == [] and hub.gap is None
    assert behind.lost == []


# The hub as a consumer's connection uses it -----------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_a_started_hub_joins_the_group_and_fans_out_what_is_published():
    hub = get_hub()
    assert get_hub() is hub  # one per event loop
    await asyncio.wait_for(asyncio.shield(hub.joined), TIMEOUT)
    client = FakeClient("a")
    hub.add(client)
    sent = await aemit("system_alert", alert(0))
    await asyncio.wait_for(client.arrived.wait(), TIMEOUT)
    assert client.events == [sent]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
async def test_all_plus_a_topic_delivers_each_event_exactly_once():
    async with await authed() as ws:
        await send(ws, {"command": "subscribe", "topics": ["all", "system_alert"]})
        sent = await aemit("system_alert", ALERT)
        event = await ws.receive_json_from(timeout=TIMEOUT)
        assert event == {"type": "system_alert", "data": ALERT, "timestamp": sent["timestamp"], "id": sent["id"]}
        assert await ws.receive_nothing(timeout=0.5)
