""" "Run now" in the admin (councilors/admin_run.py): the change pages' buttons, and messages that link to the run.

Without a live worker cluster they refuse and run nothing (a web request never runs an agent); with one,
the runs are queued: test_worker_runs.py. In Chromium: test_admin_browser.py.
"""

import sys

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils.html import escape

from councilors import services, validators
from councilors.admin_run import RUN_PAGE_PATH, run_page_url
from councilors.forms import INSTANCE_ID_HELP, RUN_PROMPT_HELP
from councilors.models import ActionRecord, Execution
from tests.factories import make_actor, make_agent, make_councilor, make_user

pytestmark = pytest.mark.django_db

PY = sys.executable


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def assert_nothing_run() -> None:
    """A refused "Run now" leaves no execution, no queued task and no action record."""
    from django_q.models import OrmQ

    assert (Execution.objects.count(), OrmQ.objects.count(), ActionRecord.objects.count()) == (0, 0, 0)


def test_the_run_page_url_is_the_documented_path():
    assert run_page_url("exec_heartbeat_1_a1b2c3") == RUN_PAGE_PATH.format(execution_id="exec_heartbeat_1_a1b2c3")
    assert run_page_url("exec_heartbeat_1_a1b2c3") == "/executions/exec_heartbeat_1_a1b2c3/"


# --- the councilor's change page ------------------------------------------------------------------


def test_the_councilor_change_page_has_run_now(admin_client):
    councilor = make_councilor()
    page = admin_client.get(reverse("admin:councilors_councilor_change", args=[councilor.pk])).content.decode()
    assert f'action="{reverse("admin:councilors_councilor_run", args=[councilor.pk])}"' in page
    assert ">Run now</button>" in page


def test_run_now_on_the_councilor_page_without_a_worker_refuses_and_runs_nothing(admin_client):
    councilor = make_councilor(agent=make_agent(runner_config={"argv": [PY, "-c", "print('caution: 80% full')"]}))
    url = reverse("admin:councilors_councilor_run", args=[councilor.pk])

    response = admin_client.post(url, follow=True)

    assert response.redirect_chain == [(reverse("admin:councilors_councilor_change", args=[councilor.pk]), 302)]
    assert messages_of(response) == [f"{councilor.title}: not run — {services.NO_WORKER}"]
    assert_nothing_run()


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


def test_the_run_now_action_without_a_worker_refuses_each_councilor_and_runs_nothing(admin_client):
    first, second = make_councilor(), make_councilor()
    response = admin_client.post(
        reverse("admin:councilors_councilor_changelist"),
        {"action": "run_now", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )
    assert sorted(messages_of(response)) == sorted(
        f"{councilor.title}: not run — {services.NO_WORKER}" for councilor in (first, second)
    )
    assert_nothing_run()


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


def post_run(client, agent, prompt: str = "the release notes"):
    return client.post(reverse("admin:councilors_agent_run", args=[agent.pk]), {"prompt": prompt, "instance_id": ""})


def test_run_now_of_an_agent_not_available_through_the_api_is_refused_and_runs_nothing(admin_client):
    agent = make_agent(api_enabled=False)
    response = post_run(admin_client, agent)
    assert response.status_code == 200  # the form again, filled in, with the reason above it
    assert response.context["form"]["prompt"].value() == "the release notes"
    message = services.AGENT_NOT_AVAILABLE % {"agent": agent.label}
    assert messages_of(response) == [f"{agent.label}: not run — {message}"]
    assert_nothing_run()


def test_run_now_of_an_agent_without_a_worker_is_refused_and_runs_nothing(admin_client):
    agent = make_agent(api_enabled=True)
    response = post_run(admin_client, agent)
    assert response.status_code == 200
    assert messages_of(response) == [f"{agent.label}: not run — {services.NO_WORKER}"]
    assert_nothing_run()


def test_run_now_of_an_agent_needs_run_agent_even_for_staff_who_may_edit_it(client):
    agent = make_agent(api_enabled=True)
    client.force_login(make_user(is_staff=True, permissions=("councilors.change_agent", "councilors.view_agent")))
    assert post_run(client, agent).status_code == 403
    assert_nothing_run()


def test_the_service_refuses_an_actor_without_run_agent_whoever_calls_it():
    agent = make_agent(api_enabled=True)
    with pytest.raises(services.RunRefused, match="councilors.run_agent"):
        services.agent_run_now(agent=agent, prompt="go", actor=make_actor(user=make_user()))
    with pytest.raises(services.RunRefused, match="councilors.run_agent"):
        services.agent_run_now(agent=agent, prompt="go", actor=make_actor("an operator"))
    assert_nothing_run()
