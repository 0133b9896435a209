import asyncio
import json
import time

import pytest
from asgiref.sync import sync_to_async
from django.db import transaction

from gamification import history
from gamification.app_settings import app_settings
from gamification.events import aemit, emit, emit_all
from gamification.fastpath import channels_redis
from gamification.payloads import Event
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
async def test_events_are_stored_and_published_after_redis_forgot_the_script(fresh_history, redis_client):
    """The script runs by its hash; a Redis that has not seen it (restarted, failed over) gets its text."""
    layer, channel = await group_listener()
    first = await aemit("system_alert", ALERT)
    redis_client.script_flush()
    second = await aemit("system_alert", ALERT)
    redis_client.script_flush()
    third = await sync_to_async(emit)("councilor_paused", PAUSED)
    received = [(await asyncio.wait_for(layer.receive(channel), timeout=5))["envelope"] for _ in range(3)]
    assert [envelope["id"] for envelope in received] == [first["id"], first["id"] + 1, first["id"] + 2]
    assert [second["id"], third["id"]] == [first["id"] + 1, first["id"] + 2]
    assert await history.newest_id() == third["id"]


@pytest.mark.django_db(transaction=True)
async def test_events_emitted_together_are_published_after_the_commit_in_order_with_consecutive_ids(
    fresh_history, redis_client
):
    """A run's finish announces two events at once (one round trip); a Redis that forgot the script gets its text."""
    layer, channel = await group_listener()
    first = await aemit("system_alert", ALERT)

    def emitted_together(message: str) -> list[dict]:
        with transaction.atomic():
            together = emit_all(Event("councilor_paused", PAUSED), Event("system_alert", {**ALERT, "message": message}))
            assert [envelope["id"] for envelope in together] == [None, None]  # nothing before the commit
        return together

    redis_client.script_flush()
    together = await sync_to_async(emitted_together)("without the script")
    together += await sync_to_async(emitted_together)("with the script")
    received = [(await asyncio.wait_for(layer.receive(channel), timeout=5))["envelope"] for _ in range(5)]
    assert [envelope["id"] for envelope in received] == [first["id"] + n for n in range(5)]
    assert received[1:] == together
    assert [envelope["type"] for envelope in together] == ["councilor_paused", "system_alert"] * 2
    assert [envelope["data"].get("message") for envelope in together[1::2]] == ["without the script", "with the script"]
    kept = await history.history_since(since=first["id"], topics={"all"})
    assert kept.events == together


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
async def test_after_a_failover_ids_skip_past_every_id_the_old_primary_could_have_assigned(
    fresh_history, promote_replica, redis_client
):
    sent = [await aemit("system_alert", alert) for alert in (ALERT,) * 5]
    promote_replica(kept_through=sent[1]["id"])  # the old primary's last three writes never reached it
    before_us = int(time.time() * 1_000_000)
    after = await aemit("system_alert", ALERT)
    assert after["id"] > sent[4]["id"] and after["id"] > before_us - 5_000_000  # the promoted one's clock
    gap = redis_client.hgetall(history.keys().gap)
    assert {name: int(value) for name, value in gap.items()} == {b"from": sent[1]["id"], b"to": after["id"] - 1}
    following = await aemit("system_alert", ALERT)
    assert following["id"] == after["id"] + 1  # one skip per failover, then one by one again


@pytest.mark.django_db(transaction=True)
async def test_a_resume_after_a_failover_is_incomplete_only_from_before_an_id_a_gateway_saw_lost(
    fresh_history, promote_replica
):
    sent = [await aemit("system_alert", {**ALERT, "message": f"m{n}"}) for n in range(5)]
    promote_replica(kept_through=sent[1]["id"])
    after = await aemit("system_alert", ALERT)
    # A gateway that dispatched up to sent[4] (its hub's `seen`) resumes a client that saw them all.
    up_to_date = await history.history_since(since=sent[4]["id"], topics={"all"}, seen=sent[4]["id"])
    assert (up_to_date.events, up_to_date.complete) == ([after], True)
    # Anyone who missed an id the new primary never received must reload, on any gateway.
    for since in (sent[0]["id"], sent[2]["id"], sent[3]["id"]):
        page = await history.history_since(since=since, topics={"all"})
        assert page.complete is False, since
    from_start = await history.history_since(since=sent[0]["id"], topics={"all"})
    assert from_start.events == [sent[1], after]  # what is kept still comes, for what it is worth


@pytest.mark.django_db(transaction=True)
async def test_a_failover_that_lost_nothing_leaves_resumes_complete(fresh_history, promote_replica):
    sent = [await aemit("system_alert", {**ALERT, "message": f"m{n}"}) for n in range(3)]
    promote_replica(kept_through=sent[2]["id"])  # the replica had everything
    after = await aemit("system_alert", ALERT)
    page = await history.history_since(since=sent[0]["id"], topics={"all"}, seen=sent[2]["id"])
    assert (page.events, page.complete) == ([sent[1], sent[2], after], True)


@pytest.mark.django_db(transaction=True)
async def test_a_gateway_that_saw_ids_beyond_the_newest_records_them_lost_before_any_new_event(
    fresh_history, promote_replica
):
    sent = [await aemit("system_alert", {**ALERT, "message": f"m{n}"}) for n in range(4)]
    promote_replica(kept_through=sent[1]["id"])
    page = await history.history_since(since=sent[0]["id"], topics={"all"}, seen=sent[3]["id"])
    assert (page.events, page.complete) == ([sent[1]], False)
    assert await history.newest_id() == sent[1]["id"]
    after = await aemit("system_alert", ALERT)
    assert after["id"] > sent[3]["id"]
    assert (await history.history_since(since=sent[2]["id"], topics={"all"})).complete is False
    assert (await history.history_since(since=sent[3]["id"], topics={"all"})).events == [after]


@pytest.mark.django_db(transaction=True)
async def test_a_client_s_since_is_no_evidence_of_loss(fresh_history):
    sent = [await aemit("system_alert", ALERT) for _ in range(2)]
    forged = await history.history_since(since=2**53, topics={"all"})  # a hostile or stale client
    assert forged.complete is False
    page = await history.history_since(since=sent[0]["id"], topics={"all"})
    assert (page.events, page.complete) == ([sent[1]], True)


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
    together = await sync_to_async(emit_all)(Event("system_alert", ALERT), Event("councilor_paused", PAUSED))
    assert [envelope["id"] for envelope in (sent, synced, *together)] == [None] * 4
    assert caplog.text.count("not published (channel layer unreachable") == 4


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
    together = await sync_to_async(emit_all)(Event("councilor_paused", PAUSED), Event("system_alert", ALERT))
    received = [(await asyncio.wait_for(layer.receive(channel), timeout=5))["envelope"] for _ in range(2)]
    assert received == together and [envelope["id"] for envelope in together] == [sent["id"] + 1, sent["id"] + 2]


@pytest.mark.django_db(transaction=True)
async def test_since_0_is_from_the_start_complete_while_the_first_event_is_kept(fresh_history, settings):
    settings.GAMIFICATION_HISTORY_SIZE = 3
    sent = [await aemit("system_alert", alert) for alert in (ALERT, ALERT, ALERT)]
    from_start = await history.history_since(since=0, topics={"all"})
    assert (from_start.events, from_start.complete) == (sent, True)
    sent.append(await aemit("system_alert", ALERT))  # the first event is trimmed
    trimmed = await history.history_since(since=0, topics={"all"})
    assert (trimmed.events, trimmed.complete) == (sent[1:], False)
