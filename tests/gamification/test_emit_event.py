"""`manage.py emit_event`: a catalogue event to every client, or a clear error on bad input."""

import asyncio
import itertools
import json
import os
import re
import subprocess
import sys
from io import StringIO

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from gamification.app_settings import app_settings
from gamification.catalogue import CATALOGUE
from gamification.management.commands.emit_event import REPLY_ONLY
from tests.processes import PROJECT_DIR

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


# --- --help ---------------------------------------------------------------------------------------


def help_text() -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", "emit_event", "--help"],
        cwd=PROJECT_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "conductor.settings.test", "LANG": "C.UTF-8", "LC_ALL": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _names(listed: str) -> list[str]:
    # Split on the commas between fields, not those inside a nested object's {...}; drop `=values`.
    return [re.sub(r"=.*", "", field.strip()) for field in re.split(r",\s*(?![^{]*})", listed) if field.strip()]


def fields_of(text: str, event_type: str) -> tuple[list[str], list[str]]:
    """The required and [optional] field names --help gives for a type."""
    after = text.split(f"\n  {event_type}: ", 1)[1].split("\n")[1:]
    listed = " ".join(line.strip() for line in itertools.takewhile(lambda line: line.startswith("      "), after))
    required, _, optional = listed.partition(" [")
    return _names(required), _names(optional.rstrip("]"))


def test_help_lists_each_types_required_and_optional_fields():
    text = help_text()
    for event in CATALOGUE.values():
        required, optional = fields_of(text, event.name)
        assert set(required) == event.required, event.name
        assert set(optional) == event.optional, event.name
        assert f"  {event.name}: {event.summary}" in text
        if not event.broadcast:  # listed (the error for an unknown type names it), marked as not for this command
            with translation.override("en"):  # the subprocess's shell speaks English (C locale)
                assert f"  {event.name}: {event.summary} ({REPLY_ONLY})" in text


def test_help_shows_the_allowed_values_and_an_example():
    text = help_text()
    assert "      level=info|warning|critical, message, source [details]\n" in text
    assert "severity=success|warning|error" in text
    assert "manage.py emit_event system_alert" in text
    assert "metrics={total_executions, success_rate, last_execution, last_severity," in text
