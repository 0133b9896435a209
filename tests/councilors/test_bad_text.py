"""Text the database cannot store (a lone surrogate, NUL) is refused where it comes in, never accepted and lost.

docs/security.md, "Bad text is refused": the API's execute, the admin's forms, the WebSocket's
commands and the management commands each answer with a clear error and store nothing.
"""

import json
from io import StringIO

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django_q.models import OrmQ

from councilors import validators
from councilors.forms import AgentRunForm
from councilors.management.lookup import BAD_ACTOR_TEXT
from councilors.models import ActionRecord, Agent, Councilor, Execution
from gamification import protocol
from gamification.management.commands.ws_token import NO_SUCH_USER
from infrastructure.api_errors import FIELD_MESSAGES
from infrastructure.text import unstorable, unstorable_anywhere
from infrastructure.tokens import token_mint
from tests.councilors.test_control import close_thread_connections, connected_from, send  # noqa: F401 - a fixture
from tests.factories import make_agent, make_councilor, make_user

LONE_SURROGATE = "abc\ud800def"
# What a terminal's non-UTF-8 bytes become in sys.argv (Python's surrogateescape): b"caf\xe9".
ARGV_NOT_UTF8 = "caf\udce9"


def nothing_stored() -> tuple[int, int, int]:
    return Execution.objects.count(), OrmQ.objects.count(), ActionRecord.objects.count()


def test_what_cannot_be_stored():
    assert unstorable(LONE_SURROGATE) and unstorable("a\x00b") and unstorable(ARGV_NOT_UTF8)
    assert not unstorable("café 🏛️ 中文 \U0001f600")  # a surrogate *pair* in JSON is one real character
    assert unstorable_anywhere({"argv": ["echo", LONE_SURROGATE]}) and unstorable_anywhere({"a\x00": 1})
    assert not unstorable_anywhere({"argv": ["echo", "ok"], "timeout": 10, "network": False})


# The API's execute ---------------------------------------------------------------------------------


@pytest.fixture
def api(db, settings) -> tuple[Client, Agent]:
    settings.API_EXECUTE_RATE_LIMIT = 1000
    user = make_user(permissions=("councilors.run_agent",))
    client = Client(headers={"authorization": f"Bearer {token_mint(user=user)}"})
    return client, make_agent(api_enabled=True)


def execute(client: Client, agent: Agent, body: str):
    return client.post(reverse("api:agent_execute", args=[agent.agent_id]), body, content_type="application/json")


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (json.dumps({"prompt": LONE_SURROGATE}), "prompt", validators.PROMPT_UNSTORABLE),
        ('{"prompt": "abc\\udfffdef"}', "prompt", validators.PROMPT_UNSTORABLE),  # a low one alone
        ('{"prompt": "a\\u0000b"}', "prompt", validators.PROMPT_NUL),
        # pydantic itself refuses it in a constrained string (worded by infrastructure/api_errors.py);
        # INSTANCE_ID_UNSTORABLE stands behind it.
        (
            json.dumps({"prompt": "fine", "instance_id": LONE_SURROGATE}),
            "instance_id",
            FIELD_MESSAGES["string_unicode"] % {"field": "instance_id"},
        ),
    ],
)
def test_execute_refuses_unstorable_text_with_400_and_queues_nothing(api, body, field, message):
    client, agent = api
    response = execute(client, agent, body)
    assert response.status_code == 400, response.content
    payload = response.json()
    assert payload["code"] == "invalid"
    [error] = payload["errors"]
    assert error["field"] == field and message in error["message"], error
    assert nothing_stored() == (0, 0, 0)


def test_execute_accepts_a_real_character_written_as_a_surrogate_pair(api):
    client, agent = api
    response = execute(client, agent, '{"prompt": "smile \\ud83d\\ude00"}')
    assert response.status_code == 202
    assert OrmQ.objects.count() == 1


# The admin's forms -------------------------------------------------------------------------------


def agent_form_data(agent: Agent, **changes: str) -> dict[str, str]:
    data = {
        "agent_id": agent.agent_id,
        "name": agent.name,
        "emoji": agent.emoji,
        "description": "",
        "runner": agent.runner,
        "runner_config": json.dumps(agent.runner_config),
        "display_name": "",
        "avatar_url": "",
        "color": "#4f46e5",
        "api_enabled": "on",
    }
    return {**data, **changes}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "runner_config",
    [
        '{"argv": ["echo", "--", "\\ud800"]}',
        '{"argv": ["echo", "a\\u0000b"]}',
        '{"argv": ["echo"], "env": {"\\udc80": "x"}}',
    ],
)
def test_the_agent_form_refuses_runner_settings_holding_unstorable_text(admin_client, runner_config):
    agent = make_agent()
    before = agent.runner_config
    url = reverse("admin:councilors_agent_change", args=[agent.pk])
    response = admin_client.post(url, agent_form_data(agent, runner_config=runner_config))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["runner_config"] == [validators.TEXT_UNSTORABLE]
    agent.refresh_from_db()
    assert agent.runner_config == before


@pytest.mark.django_db
def test_the_councilor_form_refuses_a_nul_in_its_context_files(admin_client):
    councilor = make_councilor()
    url = reverse("admin:councilors_councilor_change", args=[councilor.pk])
    data = {
        "agent": councilor.agent.pk,
        "title": councilor.title,
        "enabled": "on",
        "schedule_type": councilor.schedule_type,
        "schedule_value": councilor.schedule_value,
        "task_name": councilor.task_name,
        "task_prompt": councilor.task_prompt,
        "context_files": "README.md\nsecret\x00.txt",
        "output_format": councilor.output_format,
        "notify_on_warning": "on",
        "notification_channels": ["panel"],
        "executions-TOTAL_FORMS": "0",
        "executions-INITIAL_FORMS": "0",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["context_files"] == [validators.TEXT_UNSTORABLE]
    assert Councilor.objects.get(pk=councilor.pk).context_files == councilor.context_files


def test_the_run_now_form_refuses_a_lone_surrogate_in_the_prompt_and_instance_id():
    # A browser's form post cannot carry one (its bytes are decoded with replacement characters);
    # the form refuses it all the same, for any other caller.
    form = AgentRunForm(data={"prompt": LONE_SURROGATE, "instance_id": ARGV_NOT_UTF8})
    assert not form.is_valid()
    assert form.errors["prompt"] == [validators.PROMPT_UNSTORABLE]
    assert form.errors["instance_id"] == [validators.TEXT_UNSTORABLE]


# The WebSocket's commands ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("command", ["pause_councilor", "resume_councilor", "run_councilor"])
async def test_a_control_command_naming_a_councilor_with_unstorable_text_answers_not_found(command):
    user = await sync_to_async(make_user)(permissions=("councilors.change_councilor",))
    async with connected_from(user) as ws:
        reply = await send(ws, {"command": command, "councilor_id": LONE_SURROGATE, "request_id": LONE_SURROGATE})
        assert (reply["type"], reply["data"]["code"]) == ("error", protocol.NOT_FOUND)
        assert reply["data"]["request_id"] == LONE_SURROGATE  # echoed as JSON escapes, never stored
        assert (await send(ws, {"command": "ping"}))["type"] == "pong"  # the connection carries on
    assert await sync_to_async(nothing_stored)() == (0, 0, 0)


# The management commands -------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("command", ["pause_councilor", "resume_councilor", "run_councilor"])
@pytest.mark.parametrize("name", [ARGV_NOT_UTF8, "ops\x00"])
def test_a_command_refuses_a_by_name_it_could_not_record(command, name):
    councilor = make_councilor(enabled=True)
    with pytest.raises(CommandError) as error:
        call_command(command, councilor.councilor_id, "--by", name, stdout=StringIO())
    assert str(error.value) == BAD_ACTOR_TEXT
    assert nothing_stored() == (0, 0, 0)
    assert Councilor.objects.get(pk=councilor.pk).enabled is True


@pytest.mark.django_db
@pytest.mark.parametrize("name", [ARGV_NOT_UTF8, "ops\x00"])
def test_ws_token_answers_no_such_user_for_a_name_no_database_could_hold(name):
    with pytest.raises(CommandError) as error:
        call_command("ws_token", name, stdout=StringIO())
    assert str(error.value) == NO_SUCH_USER.format(username=name)
