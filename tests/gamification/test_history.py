import asyncio
import json
import time

import pytest
from asgiref.sync import sync_to_async

from gamification import history
from gamification.app_settings import app_settings
from gamification.events import aemit, emit
from gamification.fastpath import channels_redis
from tests.layer import group_listener

ALERT = {"level": "info", "message": "hello", "source": "tests"}
PAUSED = {"councilor_id": "sec", "success": True, "by": "admin"}


@pytest.mark.django_db(transaction=True)
async def test_each_broadcast_event_gets_the_next_id_and_is_published_with_it(fresh_history):
    layer, channel = await group_listener()
    assert channels_redis.check(layer).available is True
    first = await aemit("system_alert", ALERT)
    second = await sync_to_async(emit)("councilor_paused", PAUSED)
    received = [(await asyncio.wait_for(layer.receive(channel), timeout=5))["envelope"] for _ in range(2)]
    assert [envelope["id"] for envelope in received] == [first["id"], second["id"]]
    assert second["id"] == first["id"] + 1
    assert received[1] == {**second}
    assert await history.newest_id() == second["id"]


@pytest.mark.django_db(transaction=True)
async def test_the_first_id_starts_from_the_redis_clock_so_ids_never_go_backwards_after_data_loss(
    fresh_history, redis_client
):
    before_us = int(time.time() * 1_000_000)
    first = await aemit("system_alert", ALERT)
    assert before_us - 5_000_000 < first["id"] < 2**53  # Redis's clock, give or take the machines' skew
    await aemit("system_alert", ALERT)
    redis_client.delete(*history.keys())  # Redis restarted without persistence
    after_loss = await aemit("system_alert", ALERT)
    assert after_loss["id"] > first["id"] + 1


@pytest.mark.django_db(transaction=True)
async def test_history_since_returns_the_kept_events_of_the_topics_in_id_order(fresh_history):
    sent = [await aemit("system_alert", {**ALERT, "message": f"m{n}"}) for n in range(3)]
    paused = await aemit("councilor_paused", PAUSED)
    page = await history.history_since(since=sent[0]["id"], topics={"system_alert"})
    assert page.events == sent[1:]
    assert page.complete is True
    assert page.last_id == paused["id"]
    everything = await history.history_since(since=sent[0]["id"] - 1, topics={"all"})
    assert [event["id"] for event in everything.events] == [e["id"] for e in (*sent, paused)]
    assert everything.complete is True


@pytest.mark.django_db(transaction=True)
async def test_a_client_that_is_up_to_date_gets_nothing_and_complete(fresh_history):
    newest = await aemit("system_alert", ALERT)
    page = await history.history_since(since=newest["id"], topics={"all"})
    assert (page.events, page.complete, page.last_id) == ([], True, newest["id"])


@pytest.mark.django_db(transaction=True)
async def test_complete_is_false_when_since_is_older_than_the_history(fresh_history, settings):
    settings.GAMIFICATION_HISTORY_SIZE = 3
    sent = [await aemit("system_alert", {**ALERT, "message": f"m{n}"}) for n in range(5)]
    trimmed = await history.history_since(since=sent[0]["id"], topics={"all"})
    assert [event["id"] for event in trimmed.events] == [e["id"] for e in sent[2:]]
    assert trimmed.complete is False
    just_kept = await history.history_since(since=sent[1]["id"], topics={"all"})
    assert just_kept.events == sent[2:]
    assert just_kept.complete is True


@pytest.mark.django_db(transaction=True)
async def test_an_id_newer_than_any_assigned_is_not_complete(fresh_history):
    newest = await aemit("system_alert", ALERT)
    page = await history.history_since(since=newest["id"] + 100, topics={"all"})
    assert (page.events, page.complete, page.last_id) == ([], False, newest["id"])


@pytest.mark.django_db(transaction=True)
async def test_the_history_expires_a_day_after_its_newest_event(fresh_history, redis_client):
    await aemit("system_alert", ALERT)
    ttl = redis_client.ttl(history.keys().history)
    assert app_settings.HISTORY_TTL_S - 60 < ttl <= app_settings.HISTORY_TTL_S == 86_400
    assert redis_client.ttl(history.keys().counter) == -1  # the counter itself never expires


@pytest.mark.django_db(transaction=True)
async def test_the_stored_envelope_is_the_published_one(fresh_history, redis_client):
    layer, channel = await group_listener()
    sent = await aemit("agent_metrics_updated", {"agent_id": "a", "metrics": {"nested": [1, 2.5, None, "é"]}})
    received = (await asyncio.wait_for(layer.receive(channel), timeout=5))["envelope"]
    (stored,) = redis_client.zrangebyscore(history.keys().history, sent["id"], sent["id"])
    assert json.loads(stored) == received == sent


@pytest.mark.django_db(transaction=True)
async def test_with_the_history_off_events_carry_no_id_and_nothing_is_kept(fresh_history, settings, redis_client):
    settings.GAMIFICATION_HISTORY_ENABLED = False
    layer, channel = await group_listener()
    sent = await aemit("system_alert", ALERT)
    received = (await asyncio.wait_for(layer.receive(channel), timeout=5))["envelope"]
    assert sent["id"] is None and received["id"] is None
    assert redis_client.exists(*history.keys()) == 0


def test_an_envelope_must_end_with_its_unassigned_id():
    with pytest.raises(ValueError, match="unassigned id"):
        history.json_head({"type": "x", "data": {}, "timestamp": 1.0, "id": 5})
    with pytest.raises(ValueError, match="unassigned id"):
        history.json_head({"id": None, "type": "x"})


@pytest.mark.django_db(transaction=True)
async def test_with_redis_down_emit_logs_and_returns_without_an_id(settings, caplog, tmp_path):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [{"address": f"unix://{tmp_path}/no-redis.sock"}], "prefix": "down"},
        }
    }
    sent = await aemit("system_alert", ALERT)
    synced = await sync_to_async(emit)("system_alert", ALERT)
    assert sent["id"] is None and synced["id"] is None
    assert caplog.text.count("not published (channel layer unreachable") == 2


@pytest.mark.django_db(transaction=True)
async def test_a_sharded_layer_gets_the_event_stored_first_then_sent_with_group_send(settings, fresh_history):
    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    settings.CHANNEL_LAYERS = {
        "default": {**settings.CHANNEL_LAYERS["default"], "CONFIG": {**config, "hosts": config["hosts"] * 2}}
    }
    layer, channel = await group_listener()
    assert channels_redis.check(layer).available is False
    sent = await aemit("system_alert", ALERT)
    received = (await asyncio.wait_for(layer.receive(channel), timeout=5))["envelope"]
    assert received == sent and sent["id"] == await history.newest_id()
    assert (await history.history_since(since=sent["id"] - 1, topics={"all"})).events == [sent]


@pytest.mark.django_db(transaction=True)
async def test_since_0_is_from_the_start_complete_while_the_first_event_is_kept(fresh_history, settings):
    settings.GAMIFICATION_HISTORY_SIZE = 3
    sent = [await aemit("system_alert", alert) for alert in (ALERT, ALERT, ALERT)]
    from_start = await history.history_since(since=0, topics={"all"})
    assert (from_start.events, from_start.complete) == (sent, True)
    sent.append(await aemit("system_alert", ALERT))  # the first event is trimmed
    trimmed = await history.history_since(since=0, topics={"all"})
    assert (trimmed.events, trimmed.complete) == (sent[1:], False)
