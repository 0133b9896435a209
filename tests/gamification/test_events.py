import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.db import transaction

from gamification.catalogue import InvalidEvent
from gamification.events import aemit, emit
from tests.layer import group_listener

ALERT = {"level": "info", "message": "hello", "source": "tests"}


@pytest.mark.django_db(transaction=True)
async def test_emit_reaches_a_real_channel_layer_with_the_envelope_fields():
    layer, channel = await group_listener()
    sent = await sync_to_async(emit)("system_alert", ALERT)
    message = await asyncio.wait_for(layer.receive(channel), timeout=5)
    envelope = message["envelope"]
    assert message["type"] == "gamification.event"
    assert envelope["type"] == "system_alert"
    assert envelope["data"] == ALERT
    assert envelope["timestamp"] == sent["timestamp"]
    assert set(envelope) >= {"type", "data", "timestamp", "id"}


@pytest.mark.django_db(transaction=True)
async def test_aemit_reaches_the_layer():
    layer, channel = await group_listener()
    await aemit("system_alert", ALERT)
    message = await asyncio.wait_for(layer.receive(channel), timeout=5)
    assert message["envelope"]["data"]["message"] == "hello"


@pytest.mark.django_db(transaction=True)
async def test_nothing_is_sent_for_a_rolled_back_transaction():
    layer, channel = await group_listener()

    def emit_then_roll_back():
        with pytest.raises(RuntimeError), transaction.atomic():
            emit("system_alert", {**ALERT, "message": "rolled back"})
            raise RuntimeError("roll back")
        emit("system_alert", {**ALERT, "message": "committed"})

    await sync_to_async(emit_then_roll_back)()
    message = await asyncio.wait_for(layer.receive(channel), timeout=5)
    assert message["envelope"]["data"]["message"] == "committed"


def test_unknown_event_type_is_refused_by_name():
    with pytest.raises(InvalidEvent, match="Unknown event type 'nope'"):
        emit("nope", {})


def test_missing_fields_are_named():
    with pytest.raises(InvalidEvent, match="missing field\\(s\\): message, source"):
        emit("system_alert", {"level": "info"})
