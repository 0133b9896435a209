"""The protocol (docs/protocol.md) through the real ASGI application (routing, origin check, session and token auth)."""

import json

import pytest
from asgiref.sync import sync_to_async
from prometheus_client import REGISTRY

from councilors.models import Councilor
from gamification import history, protocol
from gamification.catalogue import BROADCAST_TYPES, TOPICS
from gamification.consumers import CONNECTED_MESSAGE
from gamification.events import aemit
from gamification.hub import get_hub
from tests.gamification.ws import ALERT, TIMEOUT, authed, expect_error, make_user, send, socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_thread_connections")]

FORBIDDEN, STRING, COUNCILOR = protocol.FORBIDDEN, "a string", "councilor_id"


# Connecting and access ------------------------------------------------------------------------


async def test_connected_message_has_client_id_last_id_and_null_id():
    user = await make_user()
    async with await authed(user, connected=False) as ws:
        hello = await ws.receive_json_from(timeout=TIMEOUT)
    assert hello["type"] == "connected"
    assert hello["data"]["message"] == CONNECTED_MESSAGE
    assert len(hello["data"]["client_id"]) == 36
    assert hello["data"]["last_id"] == await history.newest_id()
    assert hello["id"] is None and isinstance(hello["timestamp"], float)


async def test_no_credentials_are_accepted_then_closed_with_4401():
    async with socket(connected=False) as ws:
        closed = await ws.receive_output(timeout=TIMEOUT)
    assert closed == {"type": "websocket.close", "code": protocol.CloseCode.UNAUTHORIZED, "reason": "Unauthorized"}


async def test_anonymous_read_only_mode_behind_a_setting(settings, councilor):
    settings.GAMIFICATION_WS_ALLOW_ANONYMOUS = True
    async with socket() as ws:
        await aemit("system_alert", ALERT)
        assert (await ws.receive_json_from(timeout=TIMEOUT))["type"] == "system_alert"
        pause = {"command": "pause_councilor", "councilor_id": councilor.councilor_id}
        reply = await expect_error(ws, pause, FORBIDDEN)
    assert reply["data"]["message"] == protocol.MSG_FORBIDDEN.format(command="pause_councilor")


# Commands ---------------------------------------------------------------------------------------


async def test_ping_gets_pong_with_server_time_and_request_id_echo():
    async with await authed() as ws:
        reply = await send(ws, {"command": "ping", "request_id": "r-1"})
        numeric = await send(ws, {"command": "ping", "request_id": 7})
    assert reply["type"] == "pong"
    assert isinstance(reply["data"]["timestamp"], float)
    assert reply["data"]["request_id"] == "r-1"
    assert numeric["data"]["request_id"] == 7


async def test_subscribe_replaces_the_set_and_filters_events():
    async with await authed() as ws:
        reply = await send(ws, {"command": "subscribe", "topics": ["councilor_paused"], "request_id": "s"})
        assert reply == {**reply, "type": "subscribed", "data": {"topics": ["councilor_paused"], "request_id": "s"}}
        await aemit("system_alert", ALERT)
        await aemit("councilor_paused", {"councilor_id": "x", "success": True, "by": "me"})
        event = await ws.receive_json_from(timeout=TIMEOUT)
        assert event["type"] == "councilor_paused"
        assert await ws.receive_nothing(timeout=0.3)
        reply = await send(ws, {"command": "subscribe", "topics": ["system_alert"]})
        assert reply["data"]["topics"] == ["system_alert"]
        await aemit("councilor_paused", {"councilor_id": "x", "success": True, "by": "me"})
        await aemit("system_alert", ALERT)
        assert (await ws.receive_json_from(timeout=TIMEOUT))["type"] == "system_alert"
        assert await ws.receive_nothing(timeout=0.3)


async def test_two_clients_each_get_the_event_once_and_replies_stay_targeted():
    async with await authed(await make_user("a")) as first, await authed(await make_user("b")) as second:
        assert (await send(first, {"command": "ping"}))["type"] == "pong"
        assert await second.receive_nothing(timeout=0.3)
        await aemit("system_alert", ALERT)
        for ws in (first, second):
            assert (await ws.receive_json_from(timeout=TIMEOUT))["type"] == "system_alert"
            assert await ws.receive_nothing(timeout=0.3)


async def test_subscribe_to_an_unknown_topic_is_refused_with_the_valid_list():
    async with await authed() as ws:
        reply = await expect_error(ws, {"command": "subscribe", "topics": ["nope", "all"]}, protocol.UNKNOWN_TOPIC)
        await aemit("system_alert", ALERT)  # the old subscription (all) stands
        assert (await ws.receive_json_from(timeout=TIMEOUT))["type"] == "system_alert"
    valid = ", ".join(sorted(TOPICS))
    assert reply["data"]["message"] == protocol.MSG_UNKNOWN_TOPIC.format(unknown="nope", valid=valid)
    assert "councilor_run_queued" not in TOPICS and BROADCAST_TYPES < TOPICS


async def test_get_stats_lists_clients_for_staff_only():
    staff = await make_user("boss", staff=True)
    async with await authed(staff) as ws:
        stats = await send(ws, {"command": "get_stats"})
    (client,) = stats["data"]["clients"]
    assert client["user"] == "boss" and client["topics"] == ["all"]


@pytest.mark.parametrize(
    ("message", "code", "text"),
    [
        ("{not json", protocol.INVALID_JSON, protocol.MSG_INVALID_JSON),
        ("[1, 2]", protocol.NOT_AN_OBJECT, protocol.MSG_NOT_AN_OBJECT),
        ('"ping"', protocol.NOT_AN_OBJECT, protocol.MSG_NOT_AN_OBJECT),
        ({"topics": []}, protocol.MISSING_FIELD, protocol.MSG_MISSING_FIELD.format(field="command")),
        ({"command": 3}, protocol.INVALID_FIELD, protocol.MSG_INVALID_FIELD.format(field="command", expected=STRING)),
        ({"command": "subscribe"}, protocol.MISSING_FIELD, protocol.MSG_MISSING_FIELD.format(field="topics")),
        (
            {"command": "subscribe", "topics": "all"},
            protocol.INVALID_FIELD,
            protocol.MSG_INVALID_FIELD.format(field="topics", expected="a list of topic names"),
        ),
        (
            {"command": "subscribe", "topics": [1]},
            protocol.INVALID_FIELD,
            protocol.MSG_INVALID_FIELD.format(field="topics", expected="a list of topic names"),
        ),
        (
            {"command": "ping", "request_id": [1]},
            protocol.INVALID_FIELD,
            protocol.MSG_INVALID_FIELD.format(field="request_id", expected="a string or an integer"),
        ),
        ({"command": "resume_councilor"}, protocol.MISSING_FIELD, protocol.MSG_MISSING_FIELD.format(field=COUNCILOR)),
        (
            {"command": "run_councilor", "councilor_id": 5},
            protocol.INVALID_FIELD,
            protocol.MSG_INVALID_FIELD.format(field="councilor_id", expected="a string"),
        ),
    ],
)
async def test_bad_input_gets_an_error_reply_and_the_connection_carries_on(message, code, text):
    async with await authed() as ws:
        reply = await expect_error(ws, message, code)
        assert reply["data"]["message"] == text
        assert (await send(ws, {"command": "ping"}))["type"] == "pong"


async def test_unknown_command_names_the_known_ones_and_echoes_request_id():
    async with await authed() as ws:
        reply = await expect_error(ws, {"command": "dance", "request_id": "x"}, protocol.UNKNOWN_COMMAND)
    assert reply["data"]["request_id"] == "x"
    known = "cancel_run, get_stats, pause_councilor, ping, resume, resume_councilor, run_councilor, subscribe"
    assert reply["data"]["message"] == f"Unknown command 'dance'; known commands: {known}."


async def test_a_binary_message_gets_an_error():
    async with await authed() as ws:
        await ws.send_to(bytes_data=b"\x00\x01")
        reply = await ws.receive_json_from(timeout=TIMEOUT)
    assert reply["data"] == {"code": protocol.INVALID_JSON, "message": protocol.MSG_BINARY}


async def test_a_message_over_the_size_limit_closes_with_4009(settings):
    settings.GAMIFICATION_WS_MAX_MESSAGE_BYTES = 1000
    async with await authed() as ws, await authed() as bystander:
        await ws.send_to(text_data=json.dumps({"command": "ping", "pad": "é" * 600}))  # 1,200 bytes, 600 chars
        closed = await ws.receive_output(timeout=TIMEOUT)
        assert closed["type"] == "websocket.close" and closed["code"] == protocol.CloseCode.MESSAGE_TOO_BIG
        assert (await send(bystander, {"command": "ping"}))["type"] == "pong"


# Control commands -------------------------------------------------------------------------------


async def test_pause_and_resume_reply_to_the_caller_and_broadcast_to_everyone(councilor):
    admin = await make_user("admin", can_change=True)
    cid = councilor.councilor_id
    async with await authed(admin) as caller, await authed() as watcher:
        await send(caller, {"command": "subscribe", "topics": ["system_alert"]})  # only the reply, not the broadcast
        reply = await send(caller, {"command": "pause_councilor", "councilor_id": cid, "request_id": "p"})
        assert reply["type"] == "councilor_paused" and reply["id"] is None
        assert reply["data"] == {"councilor_id": cid, "success": True, "by": "admin", "request_id": "p"}
        broadcast = await watcher.receive_json_from(timeout=TIMEOUT)
        assert broadcast["type"] == "councilor_paused"
        assert broadcast["data"] == {"councilor_id": cid, "success": True, "by": "admin"}
        assert await caller.receive_nothing(timeout=0.3)
        assert not (await sync_to_async(Councilor.objects.get)(pk=councilor.pk)).enabled

        reply = await send(caller, {"command": "resume_councilor", "councilor_id": cid})
        assert reply["type"] == "councilor_resumed" and reply["data"]["success"] is True
        assert (await watcher.receive_json_from(timeout=TIMEOUT))["type"] == "councilor_resumed"
        assert (await sync_to_async(Councilor.objects.get)(pk=councilor.pk)).enabled


async def test_run_councilor_queues_a_run_and_replies_to_the_caller_only(councilor):
    from django_q.models import OrmQ

    admin = await make_user("admin", can_change=True)
    async with await authed(admin) as caller, await authed() as watcher:
        reply = await send(caller, {"command": "run_councilor", "councilor_id": councilor.councilor_id})
        assert reply["type"] == "councilor_run_queued"
        assert reply["data"]["councilor_id"] == councilor.councilor_id
        assert reply["data"]["execution_id"].startswith(f"exec_{councilor.councilor_id}_")
        assert await watcher.receive_nothing(timeout=0.3)
    assert await sync_to_async(OrmQ.objects.count)() == 1


async def test_control_without_permission_is_forbidden_and_changes_nothing(councilor):
    async with await authed() as ws:
        pause = {"command": "pause_councilor", "councilor_id": councilor.councilor_id}
        reply = await expect_error(ws, pause, FORBIDDEN)
        assert await ws.receive_nothing(timeout=0.3)
    assert reply["data"]["message"] == protocol.MSG_FORBIDDEN.format(command="pause_councilor")
    assert (await sync_to_async(Councilor.objects.get)(pk=councilor.pk)).enabled


async def test_control_of_an_unknown_councilor_is_not_found():
    admin = await make_user("admin", can_change=True)
    async with await authed(admin) as ws:
        reply = await expect_error(ws, {"command": "resume_councilor", "councilor_id": "ghost"}, protocol.NOT_FOUND)
    assert reply["data"]["message"] == protocol.MSG_NOT_FOUND.format(councilor_id="ghost")


async def test_prometheus_counts_connections_and_delivered_frames():
    def sample(name, labels=None):
        return REGISTRY.get_sample_value(name, labels or {}) or 0

    delivered = sample("conductor_events_delivered_total", {"type": "system_alert"})
    open_before = sample("conductor_websocket_connections")
    async with await authed() as first, await authed() as second:
        assert sample("conductor_websocket_connections") == open_before + 2
        await aemit("system_alert", ALERT)
        for ws in (first, second):
            await ws.receive_json_from(timeout=TIMEOUT)
        assert sample("conductor_events_delivered_total", {"type": "system_alert"}) == delivered + 2
    assert sample("conductor_websocket_connections") == open_before


async def test_a_client_the_hub_gives_up_on_is_closed_with_4500_and_the_others_carry_on():
    async with await authed(connected=False) as victim, await authed() as bystander:
        victim_id = (await victim.receive_json_from(timeout=TIMEOUT))["data"]["client_id"]
        hub = get_hub()
        (consumer,) = [connection for connection in hub.connections if connection.client_id == victim_id]
        hub.remove(consumer)
        consumer.abort()  # what the hub does after a delivery to this client raised
        closed = await victim.receive_output(timeout=TIMEOUT)
        assert closed == {
            "type": "websocket.close",
            "code": protocol.CloseCode.INTERNAL_ERROR,
            "reason": protocol.CloseCode.INTERNAL_ERROR.reason,
        }
        await aemit("system_alert", ALERT)
        assert (await bystander.receive_json_from(timeout=TIMEOUT))["type"] == "system_alert"
        assert await victim.receive_nothing(timeout=0.3)
