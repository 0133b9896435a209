"""`manage.py emit_event`: a catalogue event to every client, or a clear error on bad input."""

import asyncio
import json
from io import StringIO

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.core.management import call_command
from django.core.management.base import CommandError

from gamification.app_settings import app_settings

ALERT = {"level": "warning", "message": "disk almost full", "source": "ops"}


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
async def test_emit_event_reaches_the_channel_layer():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(app_settings.GROUP, channel)
    output = await sync_to_async(run)("emit_event", "system_alert", "--data", json.dumps(ALERT))
    envelope = (await asyncio.wait_for(layer.receive(channel), timeout=5))["envelope"]
    assert (envelope["type"], envelope["data"]) == ("system_alert", ALERT)
    assert output.startswith("Emitted system_alert at ")


@pytest.mark.parametrize(
    "args, message",
    [
        (["system_alert", "--data", "{not json"], "--data is not valid JSON (Expecting property name"),
        (["system_alert", "--data", "[1, 2]"], "Event data must be a JSON object."),
        (["system_alert"], "Event 'system_alert' is missing field(s): level, message, source."),
        (["system_alert", "--data", '{"level": "info"}'], "is missing field(s): message, source."),
        (["system_alert", "--data", json.dumps({**ALERT, "level": "loud"})], "level must be one of info, warning"),
        (["system_alert", "--data", json.dumps({**ALERT, "colour": "red"})], "has unknown field(s): colour."),
        (["no_such_event", "--data", "{}"], "Unknown event type 'no_such_event'; known types: "),
        (["councilor_run_queued", "--data", '{"councilor_id": "x"}'], "is a reply to one client and cannot be"),
    ],
)
def test_emit_event_bad_input_is_a_clear_error(args, message):
    with pytest.raises(CommandError) as excinfo:
        run("emit_event", *args)
    assert message in str(excinfo.value)
