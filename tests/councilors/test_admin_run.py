""" "Run now" in the admin (councilors/admin_run.py): the change pages' buttons, and messages that link to the run.

With a live worker cluster the runs are queued instead: test_worker_runs.py. In Chromium: test_admin_browser.py.
"""

import sys

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils.html import escape

from councilors import validators
from councilors.admin_run import RUN_PAGE_PATH, run_page_url
from councilors.forms import INSTANCE_ID_HELP, RUN_PROMPT_HELP
from councilors.models import Execution
from councilors.services import execution_start
from tests.factories import make_agent, make_councilor, make_user

pytestmark = pytest.mark.django_db

PY = sys.executable


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def link_to(execution: Execution) -> str:
    return f'<a href="{run_page_url(execution.execution_id)}">{execution.execution_id}</a>'


def test_the_run_page_url_is_the_documented_path():
    assert run_page_url("exec_heartbeat_1_a1b2c3") == RUN_PAGE_PATH.format(execution_id="exec_heartbeat_1_a1b2c3")
    assert run_page_url("exec_heartbeat_1_a1b2c3") == "/executions/exec_heartbeat_1_a1b2c3/"


# --- the councilor's change page ------------------------------------------------------------------


def test_the_councilor_change_page_has_run_now(admin_client):
    councilor = make_councilor()
    page = admin_client.get(reverse("admin:councilors_councilor_change", args=[councilor.pk])).content.decode()
    assert f'action="{reverse("admin:councilors_councilor_run", args=[councilor.pk])}"' in page
    assert ">Run now</button>" in page


def test_run_now_on_the_councilor_page_runs_it_and_the_message_links_to_the_run(admin_client):
    councilor = make_councilor(agent=make_agent(runner_config={"argv": [PY, "-c", "print('caution: 80% full')"]}))
    url = reverse("admin:councilors_councilor_run", args=[councilor.pk])

    response = admin_client.post(url, follow=True)

    execution = Execution.objects.get(councilor=councilor)
    assert (execution.status, execution.severity, execution.prompt) == ("completed", "warning", councilor.task_prompt)
    assert response.redirect_chain == [(reverse("admin:councilors_councilor_change", args=[councilor.pk]), 302)]
    assert messages_of(response) == [
        f"{councilor.title}: ran here (no worker cluster is running) as {link_to(execution)} — "
        "⚠️ Completed with warnings."
    ]
    assert link_to(execution) in response.content.decode()


def test_run_now_on_the_councilor_page_behind_a_running_run_links_to_that_one(admin_client):
    councilor = make_councilor()
    running = execution_start(agent=councilor.agent, councilor=councilor, prompt="still going")
    response = admin_client.post(reverse("admin:councilors_councilor_run", args=[councilor.pk]), follow=True)
    assert messages_of(response) == [f"{councilor.title}: not run — previous run still running ({link_to(running)})."]
    assert Execution.objects.filter(councilor=councilor).count() == 1


def test_run_now_on_the_councilor_page_is_a_post_and_needs_the_change_permission(client, admin_client):
    councilor = make_councilor()
    url = reverse("admin:councilors_councilor_run", args=[councilor.pk])
    assert admin_client.get(url).status_code == 405
    viewer = make_user(is_staff=True, permissions=("councilors.view_councilor",))
    client.force_login(viewer)
    assert client.post(url).status_code == 403
    page = client.get(reverse("admin:councilors_councilor_change", args=[councilor.pk])).content.decode()
    assert ">Run now</button>" not in page
    assert admin_client.post(reverse("admin:councilors_councilor_run", args=[999_999])).status_code == 404
    assert not Execution.objects.exists()


def test_the_run_now_action_message_links_to_the_run_page(admin_client):
    councilor = make_councilor()
    response = admin_client.post(
        reverse("admin:councilors_councilor_changelist"),
        {"action": "run_now", "_selected_action": [councilor.pk]},
        follow=True,
    )
    execution = Execution.objects.get(councilor=councilor)
    [message] = messages_of(response)
    assert link_to(execution) in message


# --- the agent's change page ----------------------------------------------------------------------


def test_the_agent_change_page_links_to_run_now_for_those_who_may_run_agents(client, admin_client):
    agent = make_agent()
    change = reverse("admin:councilors_agent_change", args=[agent.pk])
    run = reverse("admin:councilors_agent_run", args=[agent.pk])
    assert f'<a href="{run}">Run now…</a>' in admin_client.get(change).content.decode()
    client.force_login(make_user(is_staff=True, permissions=("councilors.change_agent",)))
    assert run not in client.get(change).content.decode()
    assert client.get(run).status_code == 403
    assert client.post(run, {"prompt": "go"}).status_code == 403
    assert not Execution.objects.exists()


def test_run_now_of_a_plain_agent_asks_for_a_prompt(admin_client):
    agent = make_agent(name="Summarizer")
    response = admin_client.get(reverse("admin:councilors_agent_run", args=[agent.pk]))
    assert response.status_code == 200
    form = response.context["form"]
    assert (form["prompt"].value(), form["instance_id"].value()) == (None, None)
    page = response.content.decode()
    assert escape(str(RUN_PROMPT_HELP)) in page and escape(str(INSTANCE_ID_HELP)) in page
    assert "Run Summarizer" in page


def test_run_now_of_a_councilors_agent_starts_from_its_task_prompt(admin_client):
    councilor = make_councilor(task_prompt="Audit the open ports.")
    response = admin_client.get(reverse("admin:councilors_agent_run", args=[councilor.agent.pk]))
    assert response.context["form"]["prompt"].value() == "Audit the open ports."


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        ("", validators.PROMPT_EMPTY),
        ("   ", validators.PROMPT_EMPTY),
        ("x" * 10_001, validators.PROMPT_TOO_LONG % {"limit": 10_000, "length": 10_001}),
    ],
)
def test_run_now_of_an_agent_refuses_a_bad_prompt_and_runs_nothing(admin_client, prompt, message):
    agent = make_agent()
    response = admin_client.post(reverse("admin:councilors_agent_run", args=[agent.pk]), {"prompt": prompt})
    assert response.status_code == 200
    assert response.context["form"].errors["prompt"] == [message]
    assert escape(message) in response.content.decode()
    assert not Execution.objects.exists()


def test_run_now_of_an_agent_runs_it_with_the_prompt_and_links_to_the_run(admin_client):
    agent = make_agent(runner_config={"argv": [PY, "-c", "import os; print('asked:', os.environ['CONDUCTOR_PROMPT'])"]})
    url = reverse("admin:councilors_agent_run", args=[agent.pk])

    response = admin_client.post(url, {"prompt": "the release notes", "instance_id": "ops-7"}, follow=True)

    execution = Execution.objects.get(agent=agent)
    assert (execution.kind, execution.prompt, execution.instance_id) == ("agent", "the release notes", "ops-7")
    assert (execution.status, execution.output) == ("completed", "asked: the release notes\n")
    assert response.redirect_chain == [(reverse("admin:councilors_agent_change", args=[agent.pk]), 302)]
    assert messages_of(response) == [
        f"{agent.label}: ran here (no worker cluster is running) as {link_to(execution)} — ✅ Succeeded."
    ]
