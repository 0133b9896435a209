"""The admin: forms show the validators' messages and save nothing; actions call the services."""

import asyncio
import json
import re
import sys
from datetime import UTC, datetime

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from councilors import validators
from councilors.admin import RECENT_EXECUTIONS, short_time
from councilors.forms import (
    AGENT_HELP,
    AGENT_TAKEN,
    CHANNELS_FOR_NOTIFY,
    COLOR_REQUIRED,
    RUNNER_CONFIG_NOT_JSON,
    SCHEDULE_REQUIRED,
    TASK_PROMPT_HELP,
)
from councilors.models import RUNNER_CONFIG_NOT_OBJECT, ActionRecord, Agent, Councilor, Execution
from councilors.runners.argv_policy import PROMPT_BEFORE_END_OF_OPTIONS, PROMPT_INSIDE_ARGUMENT
from councilors.runners.command import ARGV_INVALID
from councilors.runners.python import CALLABLE_NOT_ALLOWED
from gamification.app_settings import app_settings
from tests.councilors.layer import toggles
from tests.factories import make_agent, make_councilor

PY = sys.executable
INLINE_MANAGEMENT = {
    "executions-TOTAL_FORMS": "0",
    "executions-INITIAL_FORMS": "0",
    "executions-MIN_NUM_FORMS": "0",
    "executions-MAX_NUM_FORMS": "0",
}


def agent_post(**overrides) -> dict:
    data = {
        "agent_id": "new-agent",
        "name": "New agent",
        "emoji": "🤖",
        "description": "",
        "runner": "command",
        "runner_config": json.dumps({"argv": [PY, "--version"]}),
        "display_name": "",
        "avatar_url": "",
        "color": "#4f46e5",
    }
    return {**data, **overrides}


def councilor_post(agent: Agent, **overrides) -> dict:
    data = {
        "agent": str(agent.pk),
        "title": "Nightly audit",
        "enabled": "on",
        "schedule_type": "interval",
        "schedule_value": "30m",
        "task_name": "Audit",
        "task_prompt": "Check everything.",
        "context_files": "docs/a.md\n\n  docs/b.md  \n",
        "output_format": "summary",
        "notify_on_warning": "on",
        "notify_on_error": "on",
        "notification_channels": ["panel", "toast"],
        "max_retries": "0",
        "retry_backoff_s": "30",
        **INLINE_MANAGEMENT,
    }
    return {key: value for key, value in {**data, **overrides}.items() if value is not None}


def form_errors(response) -> dict[str, list[str]]:
    assert response.status_code == 200, "a refused form is shown again, not redirected"
    return response.context["adminform"].form.errors


def assert_refused(response, field: str, message: str) -> None:
    assert message in form_errors(response)[field]
    assert escape(message) in response.content.decode()


# --- agent form -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_agent_add_form_saves_a_valid_agent(admin_client):
    response = admin_client.post(reverse("admin:councilors_agent_add"), agent_post())
    assert response.status_code == 302
    agent = Agent.objects.get(agent_id="new-agent")
    assert agent.runner_config == {"argv": [PY, "--version"]}


@pytest.mark.django_db
def test_agent_form_explains_broken_json(admin_client):
    broken = '{"argv": ['
    with pytest.raises(json.JSONDecodeError) as parse_error:
        json.loads(broken)
    response = admin_client.post(reverse("admin:councilors_agent_add"), agent_post(runner_config=broken))
    # Only the parse error: not also "argv must be…" about the settings it could not read.
    where = {"line": parse_error.value.lineno, "column": parse_error.value.colno}
    assert where == {"line": 1, "column": 11}
    assert form_errors(response)["runner_config"] == [RUNNER_CONFIG_NOT_JSON % where]
    assert "Expecting value" not in response.content.decode(), "the json module's own wording stays out"
    assert not Agent.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "config, message",
    [
        ({"argv": "python --version"}, ARGV_INVALID),
        ({"argv": [PY], "timeout": 0}, "timeout must be a positive number of seconds; got 0."),
        ([1, 2], RUNNER_CONFIG_NOT_OBJECT),
        ({"argv": ["sh", "-c", "echo {prompt}"]}, PROMPT_INSIDE_ARGUMENT % {"arg": "echo {prompt}"}),
        ({"argv": ["python3", "{prompt}"]}, PROMPT_BEFORE_END_OF_OPTIONS),
    ],
)
def test_agent_form_shows_runner_config_errors(admin_client, config, message):
    response = admin_client.post(reverse("admin:councilors_agent_add"), agent_post(runner_config=json.dumps(config)))
    assert_refused(response, "runner_config", message)
    assert not Agent.objects.exists()


@pytest.mark.django_db
def test_agent_form_refuses_a_python_callable_outside_the_allowed_modules(admin_client):
    post = agent_post(runner="python", runner_config=json.dumps({"callable": "builtins.eval"}))
    response = admin_client.post(reverse("admin:councilors_agent_add"), post)
    message = CALLABLE_NOT_ALLOWED % {"path": "builtins.eval", "allowed": "councilors.demo"}
    assert_refused(response, "runner_config", message)
    assert not Agent.objects.exists()


@pytest.mark.django_db
def test_agent_form_with_empty_runner_config_says_what_is_missing(admin_client):
    response = admin_client.post(reverse("admin:councilors_agent_add"), agent_post(runner_config=""))
    assert_refused(response, "runner_config", ARGV_INVALID)


@pytest.mark.django_db
def test_a_new_agents_runner_config_starts_as_an_empty_object(admin_client):
    response = admin_client.get(reverse("admin:councilors_agent_add"))
    assert response.context["adminform"].form["runner_config"].value() == "{}"
    assert re.search(r'<textarea name="runner_config"[^>]*>\s*\{\}</textarea>', response.content.decode())


@pytest.mark.django_db
@pytest.mark.parametrize(
    "color, message",
    [
        ("red", validators.COLOR_INVALID % {"value": "red"}),
        ("#abc", validators.COLOR_INVALID % {"value": "#abc"}),
        ("", COLOR_REQUIRED),
    ],
)
def test_agent_form_refuses_bad_colours(admin_client, color, message):
    response = admin_client.post(reverse("admin:councilors_agent_add"), agent_post(color=color))
    assert_refused(response, "color", message)
    assert not Agent.objects.exists()


@pytest.mark.django_db
def test_agent_change_form_keeps_the_stored_agent_on_error(admin_client):
    agent = make_agent(color="#000000")
    url = reverse("admin:councilors_agent_change", args=[agent.pk])
    response = admin_client.post(url, agent_post(agent_id=agent.agent_id, color="#00000g"))
    assert validators.COLOR_INVALID % {"value": "#00000g"} in form_errors(response)["color"]
    agent.refresh_from_db()
    assert agent.color == "#000000"


# --- councilor form -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_councilor_add_form_saves_a_valid_councilor(admin_client):
    agent = make_agent()
    response = admin_client.post(reverse("admin:councilors_councilor_add"), councilor_post(agent))
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    councilor = Councilor.objects.get(agent=agent)
    assert councilor.context_files == ["docs/a.md", "docs/b.md"]
    assert councilor.notification_channels == ["panel", "toast"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "overrides, field, message",
    [
        ({"schedule_value": "30"}, "schedule_value", validators.INTERVAL_INVALID % {"value": "30"}),
        ({"schedule_value": "0m"}, "schedule_value", validators.INTERVAL_ZERO % {"value": "0m"}),
        ({"schedule_value": ""}, "schedule_value", SCHEDULE_REQUIRED),
        (
            {"schedule_type": "cron", "schedule_value": "* * * *"},
            "schedule_value",
            validators.CRON_FIELDS % {"count": 4},
        ),
        ({"task_prompt": ""}, "task_prompt", validators.PROMPT_EMPTY),
        ({"task_prompt": "   "}, "task_prompt", validators.PROMPT_EMPTY),
        (
            {"task_prompt": "x" * 10_001},
            "task_prompt",
            validators.PROMPT_TOO_LONG % {"limit": 10_000, "length": 10_001},
        ),
        (
            {"notification_channels": None},
            "notification_channels",
            CHANNELS_FOR_NOTIFY % {"outcomes": "warning, error"},
        ),
        (
            {"notification_channels": None, "notify_on_warning": None, "notify_on_error": None},
            "notification_channels",
            validators.CHANNELS_EMPTY,
        ),
    ],
)
def test_councilor_add_form_shows_each_rule_and_saves_nothing(admin_client, overrides, field, message):
    agent = make_agent()
    response = admin_client.post(reverse("admin:councilors_councilor_add"), councilor_post(agent, **overrides))
    assert_refused(response, field, message)
    assert not Councilor.objects.exists()


@pytest.mark.django_db
def test_the_councilor_add_form_offers_only_agents_that_are_not_councilors(admin_client):
    free, taken = make_agent(name="Free"), make_councilor().agent
    form = admin_client.get(reverse("admin:councilors_councilor_add")).context["adminform"].form
    assert list(form.fields["agent"].queryset) == [free]
    assert form.fields["agent"].help_text == AGENT_HELP
    assert AGENT_HELP in admin_client.get(reverse("admin:councilors_councilor_add")).content.decode()
    response = admin_client.post(reverse("admin:councilors_councilor_add"), councilor_post(taken))
    assert_refused(response, "agent", AGENT_TAKEN)
    assert Councilor.objects.count() == 1


@pytest.mark.django_db
def test_the_councilor_change_form_keeps_offering_its_own_agent(admin_client):
    councilor, other = make_councilor(), make_councilor()
    url = reverse("admin:councilors_councilor_change", args=[councilor.pk])
    form = admin_client.get(url).context["adminform"].form
    assert councilor.agent in form.fields["agent"].queryset
    assert other.agent not in form.fields["agent"].queryset
    response = admin_client.post(url, posted_change_form(admin_client, councilor, title="Renamed"))
    assert response.status_code == 302
    councilor.refresh_from_db()
    assert councilor.title == "Renamed"


@pytest.mark.django_db
def test_the_task_prompt_says_what_it_is_for_per_runner(admin_client):
    page = admin_client.get(reverse("admin:councilors_councilor_add")).content.decode()
    assert str(TASK_PROMPT_HELP) in page  # the admin shows help texts as written
    for runner in ("command: on its stdin and in $CONDUCTOR_PROMPT", 'http: sent as "prompt"', "python: the callable"):
        assert runner in str(TASK_PROMPT_HELP)


@pytest.mark.django_db
def test_councilor_form_refuses_bad_cron_naming_the_cron_field(admin_client):
    agent = make_agent()
    data = councilor_post(agent, schedule_type="cron", schedule_value="61 * * * *")
    response = admin_client.post(reverse("admin:councilors_councilor_add"), data)
    params = {"value": "61 * * * *", "field": "minute", "part": "61", "allowed": "0-59"}
    assert_refused(response, "schedule_value", validators.CRON_FIELD_INVALID % params)


@pytest.mark.django_db
def test_the_add_councilor_form_ticks_a_channel_for_the_notifications_it_ticks(admin_client):
    """A new councilor notifies on warning and error (the model's defaults): a channel comes ticked with them."""
    form = admin_client.get(reverse("admin:councilors_councilor_add")).context["adminform"].form
    assert (form["notify_on_warning"].value(), form["notify_on_error"].value()) == (True, True)
    assert form["notification_channels"].value() == ["panel"]
    html = admin_client.get(reverse("admin:councilors_councilor_add")).content.decode()
    assert re.search(r'<input type="checkbox" name="notification_channels" value="panel"[^>]* checked', html)
    # Saving the form as it comes (only the required blanks filled in) keeps those defaults.
    agent = make_agent()
    posted = {name: value for name, value in councilor_post(agent).items() if name != "notify_on_success"}
    posted["notification_channels"] = form["notification_channels"].value()
    assert admin_client.post(reverse("admin:councilors_councilor_add"), posted).status_code == 302
    councilor = Councilor.objects.get(agent=agent)
    assert (councilor.notify_on_warning, councilor.notify_on_error, councilor.notification_channels) == (
        True,
        True,
        ["panel"],
    )


@pytest.mark.django_db
def test_councilor_change_form_keeps_the_stored_schedule_on_error(admin_client):
    councilor = make_councilor(schedule_value="30m")
    url = reverse("admin:councilors_councilor_change", args=[councilor.pk])
    response = admin_client.post(url, councilor_post(councilor.agent, schedule_value="0m"))
    assert_refused(response, "schedule_value", validators.INTERVAL_ZERO % {"value": "0m"})
    councilor.refresh_from_db()
    assert councilor.schedule_value == "30m"


# --- lists and the read-only history --------------------------------------------------------------


@pytest.mark.django_db
def test_councilor_list_shows_schedule_and_last_severity(admin_client):
    from councilors.services import councilor_run

    councilor = make_councilor(schedule_value="45m")
    Execution.objects.all().delete()
    councilor_run(councilor=councilor)
    page = admin_client.get(reverse("admin:councilors_councilor_changelist")).content.decode()
    assert "every 45m" in page
    assert "✅ Succeeded" in page  # the one verdict (councilors/verdicts.py)
    assert councilor.title in page


@pytest.mark.django_db
def test_councilor_change_page_lists_recent_executions_only(admin_client):
    from councilors.services import councilor_run

    councilor = make_councilor()
    runs = [councilor_run(councilor=councilor) for _ in range(RECENT_EXECUTIONS + 2)]
    page = admin_client.get(reverse("admin:councilors_councilor_change", args=[councilor.pk])).content.decode()
    assert runs[-1].execution_id in page
    assert runs[0].execution_id not in page, "only the latest runs are inlined"
    assert sum(run.execution_id in page for run in runs) == RECENT_EXECUTIONS


@pytest.mark.django_db
def test_lists_and_change_pages_link_to_the_live_run_and_agent_pages(admin_client):
    from councilors.services import councilor_run

    councilor = make_councilor()
    execution = councilor_run(councilor=councilor)
    run_page = f'href="/executions/{execution.execution_id}/"'
    agent_page = f'href="/agents/{councilor.councilor_id}/"'
    executions = admin_client.get(reverse("admin:councilors_execution_changelist")).content.decode()
    assert run_page in executions
    assert (
        run_page in admin_client.get(reverse("admin:councilors_execution_change", args=[execution.pk])).content.decode()
    )
    assert agent_page in admin_client.get(reverse("admin:councilors_councilor_changelist")).content.decode()
    assert (
        agent_page
        in admin_client.get(reverse("admin:councilors_councilor_change", args=[councilor.pk])).content.decode()
    )
    agent_change = reverse("admin:councilors_agent_change", args=[councilor.agent.pk])
    assert agent_page in admin_client.get(agent_change).content.decode()


@pytest.mark.django_db
def test_executions_are_viewable_but_not_addable_or_editable(admin_client):
    from councilors.services import councilor_run

    execution = councilor_run(councilor=make_councilor())
    changelist = reverse("admin:councilors_execution_changelist")
    assert admin_client.get(changelist, {"status__exact": "completed", "q": execution.execution_id}).status_code == 200
    assert admin_client.get(changelist, {"severity__exact": "success", "kind__exact": "councilor"}).status_code == 200
    assert admin_client.get(reverse("admin:councilors_execution_add")).status_code == 403
    detail = admin_client.get(reverse("admin:councilors_execution_change", args=[execution.pk]))
    assert detail.status_code == 200
    assert execution.execution_id in detail.content.decode()
    admin_client.post(reverse("admin:councilors_execution_change", args=[execution.pk]), {"output": "forged"})
    execution.refresh_from_db()
    assert execution.output != "forged"


@pytest.mark.django_db
def test_execution_search_finds_text_in_the_output(admin_client):
    from councilors.services import councilor_run

    hit = councilor_run(councilor=make_councilor())
    other = councilor_run(
        councilor=make_councilor(agent=make_agent(runner_config={"argv": [PY, "-c", "print('zebra stripes')"]}))
    )
    response = admin_client.get(reverse("admin:councilors_execution_changelist"), {"q": "zebra"})
    results = list(response.context["cl"].result_list)
    assert results == [other]
    assert hit not in results


# --- actions --------------------------------------------------------------------------------------


def run_action(client, model: str, action: str, pks: list[int]):
    url = reverse(f"admin:councilors_{model}_changelist")
    return client.post(url, {"action": action, "_selected_action": pks}, follow=True)


@pytest.mark.django_db
def test_pause_and_resume_actions_toggle_enabled(admin_client):
    councilor = make_councilor(enabled=True)
    run_action(admin_client, "councilor", "pause", [councilor.pk])
    councilor.refresh_from_db()
    assert councilor.enabled is False
    run_action(admin_client, "councilor", "resume", [councilor.pk])
    councilor.refresh_from_db()
    assert councilor.enabled is True


@pytest.mark.django_db(transaction=True)
async def test_pause_action_broadcasts_who_paused(admin_client):
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(app_settings.GROUP, channel)
    councilor = await sync_to_async(make_councilor)(enabled=True)
    await sync_to_async(run_action)(admin_client, "councilor", "pause", [councilor.pk])
    message = await asyncio.wait_for(layer.receive(channel), timeout=5)
    assert message["envelope"]["type"] == "councilor_paused"
    assert message["envelope"]["data"] == {"councilor_id": councilor.councilor_id, "success": True, "by": "admin"}


@pytest.mark.django_db
def test_promote_action_makes_a_paused_councilor_and_skips_existing_ones(admin_client):
    plain = make_agent(name="Linter", description="Lint the code base.")
    already = make_councilor()
    response = run_action(admin_client, "agent", "promote_to_councilor", [plain.pk, already.agent.pk])
    promoted = Councilor.objects.get(agent=plain)
    assert (promoted.title, promoted.enabled, promoted.schedule_value) == ("Linter", False, "1h")
    assert promoted.task_prompt == "Lint the code base."
    assert Councilor.objects.count() == 2
    texts = [str(message) for message in get_messages(response.wsgi_request)]
    assert f"{already.agent.label} is already a councilor." in texts


def posted_change_form(client, councilor: Councilor, **overrides) -> dict:
    """What a browser posts back from the change page: its inline management and id fields included."""
    import re

    url = reverse("admin:councilors_councilor_change", args=[councilor.pk])
    html = client.get(url).content.decode()
    hidden = dict(re.findall(r'<input type="hidden" name="(executions-[^"]+)" value="([^"]*)"', html))
    return {**councilor_post(councilor.agent), **hidden, **overrides}


@pytest.mark.django_db
def test_saving_a_councilor_while_new_runs_land_keeps_working(admin_client):
    from councilors.services import councilor_run

    councilor = make_councilor()
    for _ in range(RECENT_EXECUTIONS + 1):
        councilor_run(councilor=councilor)
    data = posted_change_form(admin_client, councilor, title="Renamed")
    councilor_run(councilor=councilor)  # the inline's latest runs change between GET and POST
    response = admin_client.post(reverse("admin:councilors_councilor_change", args=[councilor.pk]), data)
    assert response.status_code == 302
    assert Councilor.objects.get(pk=councilor.pk).title == "Renamed"
    assert Execution.objects.filter(councilor=councilor).count() == RECENT_EXECUTIONS + 2


@pytest.mark.django_db(transaction=True)
async def test_unticking_enabled_in_the_form_is_a_pause_everyone_hears_of(admin_client):
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(app_settings.GROUP, channel)
    councilor = await sync_to_async(make_councilor)(enabled=True)
    data = await sync_to_async(posted_change_form)(admin_client, councilor, enabled=None)
    url = reverse("admin:councilors_councilor_change", args=[councilor.pk])
    response = await sync_to_async(admin_client.post)(url, {k: v for k, v in data.items() if v is not None})
    assert response.status_code == 302
    message = await asyncio.wait_for(layer.receive(channel), timeout=5)
    assert message["envelope"]["type"] == "councilor_paused"
    assert message["envelope"]["data"]["by"] == "admin"


# --- saving goes through the services: one transaction, one announcement -------------------------


def post_change_form(client, councilor: Councilor, **overrides):
    data = posted_change_form(client, councilor, **overrides)
    url = reverse("admin:councilors_councilor_change", args=[councilor.pk])
    return client.post(url, {key: value for key, value in data.items() if value is not None})


@pytest.mark.django_db(transaction=True)
def test_unticking_enabled_in_the_form_announces_exactly_one_pause_by_the_admin(admin_client, listener):
    councilor = make_councilor(enabled=True)
    assert post_change_form(admin_client, councilor, enabled=None).status_code == 302
    expected = {"councilor_id": councilor.councilor_id, "success": True, "by": "admin"}
    assert toggles(listener.so_far()) == [("councilor_paused", expected)]
    councilor.refresh_from_db()
    assert (councilor.enabled, councilor.q_schedule_id) == (False, None)


@pytest.mark.django_db(transaction=True)
def test_ticking_enabled_in_the_form_announces_exactly_one_resume_by_the_admin(admin_client, listener):
    councilor = make_councilor(enabled=False)
    assert post_change_form(admin_client, councilor, enabled="on").status_code == 302
    expected = {"councilor_id": councilor.councilor_id, "success": True, "by": "admin"}
    assert toggles(listener.so_far()) == [("councilor_resumed", expected)]
    councilor.refresh_from_db()
    assert councilor.enabled is True and councilor.q_schedule_id is not None


@pytest.mark.django_db(transaction=True)
def test_saving_the_form_without_touching_enabled_announces_nothing(admin_client, listener):
    councilor = make_councilor(enabled=True)
    assert post_change_form(admin_client, councilor, title="Renamed").status_code == 302
    assert toggles(listener.so_far()) == []
    assert Councilor.objects.get(pk=councilor.pk).title == "Renamed"


@pytest.mark.django_db(transaction=True)
def test_adding_a_councilor_in_the_form_is_no_resume(admin_client, listener):
    agent = make_agent()
    assert admin_client.post(reverse("admin:councilors_councilor_add"), councilor_post(agent)).status_code == 302
    assert toggles(listener.so_far()) == []
    assert Councilor.objects.get(agent=agent).q_schedule_id is not None


# --- agents available through the API --------------------------------------------------------------


@pytest.mark.django_db
def test_the_api_flag_is_shown_in_the_agent_list_and_set_in_the_form(admin_client):
    assert admin_client.post(reverse("admin:councilors_agent_add"), agent_post(agent_id="hidden")).status_code == 302
    assert admin_client.post(reverse("admin:councilors_agent_add"), agent_post(agent_id="shown", api_enabled="on"))
    assert Agent.objects.get(agent_id="hidden").api_enabled is False  # off unless ticked
    assert Agent.objects.get(agent_id="shown").api_enabled is True

    changelist = admin_client.get(reverse("admin:councilors_agent_changelist"))
    assert "api_enabled" in changelist.context["cl"].list_display
    assert "Available through the API" in changelist.content.decode()
    form = admin_client.get(reverse("admin:councilors_agent_add")).content.decode()
    assert 'name="api_enabled"' in form
    assert str(Agent._meta.get_field("api_enabled").help_text) in form  # the admin renders help text as HTML


# --- every action on record ----------------------------------------------------------------------


def admin_records() -> list[tuple]:
    fields = ("actor__username", "actor_name", "action", "target", "execution_id", "source", "address")
    return list(ActionRecord.objects.order_by("pk").values_list(*fields))


@pytest.mark.django_db
def test_pause_and_resume_actions_are_recorded_as_the_admins_and_a_refused_run_now_is_not(admin_client):
    councilor = make_councilor(enabled=True)
    cid = councilor.councilor_id
    run_action(admin_client, "councilor", "pause", [councilor.pk])
    run_action(admin_client, "councilor", "resume", [councilor.pk])
    run_action(admin_client, "councilor", "run_now", [councilor.pk])  # no worker cluster: refused, nothing run

    assert not Execution.objects.filter(councilor=councilor).exists()
    assert admin_records() == [
        ("admin", "admin", "pause", cid, "", "admin", "127.0.0.1"),
        ("admin", "admin", "resume", cid, "", "admin", "127.0.0.1"),
    ]


@pytest.mark.django_db
def test_toggling_enabled_in_the_form_is_recorded_and_other_edits_are_not(admin_client):
    councilor = make_councilor(enabled=True)
    assert post_change_form(admin_client, councilor, title="Renamed").status_code == 302
    assert admin_records() == []
    assert post_change_form(admin_client, councilor, enabled=None).status_code == 302
    assert admin_records() == [("admin", "admin", "pause", councilor.councilor_id, "", "admin", "127.0.0.1")]


@pytest.mark.django_db
def test_the_action_record_is_read_only_in_the_admin(admin_client):
    councilor = make_councilor(enabled=True)
    run_action(admin_client, "councilor", "pause", [councilor.pk])
    record = ActionRecord.objects.get()

    changelist = admin_client.get(reverse("admin:councilors_actionrecord_changelist"), {"source__exact": "admin"})
    assert list(changelist.context["cl"].result_list) == [record]
    assert admin_client.get(reverse("admin:councilors_actionrecord_add")).status_code == 403
    detail = admin_client.get(reverse("admin:councilors_actionrecord_change", args=[record.pk]))
    assert detail.status_code == 200 and 'name="_save"' not in detail.content.decode()
    edit = admin_client.post(reverse("admin:councilors_actionrecord_change", args=[record.pk]), {"actor_name": "x"})
    assert edit.status_code == 403
    assert admin_client.post(reverse("admin:councilors_actionrecord_delete", args=[record.pk])).status_code == 403
    record.refresh_from_db()
    assert record.actor_name == "admin"


@pytest.mark.django_db
def test_staff_need_the_view_permission_to_read_the_action_record(client):
    from tests.factories import make_user

    client.force_login(make_user(is_staff=True))
    assert client.get(reverse("admin:councilors_actionrecord_changelist")).status_code == 403
    client.force_login(make_user(is_staff=True, permissions=("councilors.view_actionrecord",)))
    assert client.get(reverse("admin:councilors_actionrecord_changelist")).status_code == 200


def test_list_columns_write_times_short_with_the_year_only_when_it_is_not_this_one(settings):
    settings.TIME_ZONE = "America/Sao_Paulo"
    moment = datetime(2026, 12, 1, 7, 8, 30, tzinfo=UTC)
    assert short_time(moment, now=datetime(2026, 12, 24, tzinfo=UTC)) == "Dec 1, 04:08"
    assert short_time(moment, now=datetime(2027, 1, 2, tzinfo=UTC)) == "Dec 1 2026, 04:08"
    assert short_time(None) == "—"


def test_list_columns_write_times_in_the_order_of_the_language(settings):
    # Not "Dez 1, 04:08": the day before the month in Portuguese.
    settings.TIME_ZONE = "America/Sao_Paulo"
    moment = datetime(2026, 12, 1, 7, 8, 30, tzinfo=UTC)
    with translation.override("pt-br"):
        assert short_time(moment, now=datetime(2026, 12, 24, tzinfo=UTC)) == "1 Dez, 04:08"
        assert short_time(moment, now=datetime(2027, 1, 2, tzinfo=UTC)) == "1 Dez 2026, 04:08"
