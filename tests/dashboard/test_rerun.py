"""Run again and Edit and run on a run page: same prompt, same rules as running the agent."""

import pytest
from django.urls import reverse
from django_q.models import OrmQ

from councilors.models import ActionRecord, Execution
from councilors.services import AGENT_NOT_AVAILABLE, NO_WORKER, RUN_FORBIDDEN, execution_finish, execution_start
from tests.factories import PASSWORD, make_agent, make_councilor, make_user

RUN = "councilors.run_agent"


@pytest.fixture(autouse=True)
def own_redis_keys(private_channel_prefix):
    """Rate-limit windows are keyed by user pk, which tests reuse: give each test its own keys."""


@pytest.fixture
def alive(monkeypatch):
    """A live worker cluster, as far as the web's rules ask (tests of the rules, not of the workers)."""
    from councilors import services

    monkeypatch.setattr(services, "worker_clusters_alive", lambda: 1)


def queued_tasks() -> list[tuple[str, tuple]]:
    return [(task.func(), task.args()) for task in OrmQ.objects.order_by("pk")]


def finished_run(agent, *, user, councilor=None, prompt="Look at the logs", instance_id="inst-7") -> Execution:
    run = execution_start(agent=agent, councilor=councilor, prompt=prompt, instance_id=instance_id, requested_by=user)
    return execution_finish(execution=run, output="ok")


def login(client, user):
    assert client.login(username=user.username, password=PASSWORD)


@pytest.mark.django_db
def test_run_again_queues_the_same_prompt_and_opens_the_new_run(client, alive):
    user = make_user(permissions=(RUN,))
    agent = make_agent(api_enabled=True)
    run = finished_run(agent, user=user)
    login(client, user)
    page = client.get(reverse("run_detail", args=[run.execution_id])).content.decode()
    assert 'id="run-again"' in page and 'id="edit-and-run"' in page

    response = client.post(reverse("run_again", args=[run.execution_id]))
    [(func, args)] = queued_tasks()
    assert func == "councilors.tasks.run_agent_task"
    assert args[:3] == (agent.agent_id, "Look at the logs", "inst-7")
    assert response.status_code == 302 and response.url == reverse("run_detail", args=[args[3]])
    record = ActionRecord.objects.get()
    assert (record.action, record.actor, record.execution_id) == ("run_now", user, args[3])
    # The new run's page answers (its record is written when a worker starts it).
    assert client.get(response.url).status_code == 200


@pytest.mark.django_db
def test_run_again_of_a_councilor_run_runs_the_councilor(client, alive):
    user = make_user(permissions=(RUN, "councilors.view_execution"))
    councilor = make_councilor(agent=make_agent(api_enabled=True))
    run = finished_run(councilor.agent, councilor=councilor, user=None, prompt=councilor.task_prompt)
    login(client, user)
    response = client.post(reverse("run_again", args=[run.execution_id]))
    [(func, args)] = queued_tasks()
    assert (func, args[0]) == ("councilors.tasks.run_councilor_task", councilor.councilor_id)
    assert response.url == reverse("run_detail", args=[args[1]])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("permissions", "api_enabled", "workers", "message"),
    [
        ((), True, 1, RUN_FORBIDDEN % {"permission": RUN}),
        ((RUN,), False, 1, AGENT_NOT_AVAILABLE % {"agent": "Agent"}),
        ((RUN,), True, 0, NO_WORKER),
    ],
)
def test_run_again_obeys_the_rules_of_running_the_agent(
    client, monkeypatch, permissions, api_enabled, workers, message
):
    from councilors import services

    monkeypatch.setattr(services, "worker_clusters_alive", lambda: workers)
    user = make_user(permissions=permissions)
    agent = make_agent(api_enabled=api_enabled, name="Agent")
    run = finished_run(agent, user=user)
    login(client, user)
    page = client.get(reverse("run_detail", args=[run.execution_id])).content.decode()
    assert ('id="run-again"' in page) == bool(permissions and api_enabled)
    if not (permissions and api_enabled):
        assert 'id="run-actions"></div>' in page  # nothing to offer: the box stays empty, hidden
    response = client.post(reverse("run_again", args=[run.execution_id]))
    assert response.status_code == 409
    assert str(message).split("%")[0][:40] in response.content.decode().replace("&quot;", '"').replace("&#x27;", "'")
    assert queued_tasks() == [] and not ActionRecord.objects.exists()


@pytest.mark.django_db
def test_run_again_is_rate_limited(client, alive, settings):
    settings.API_EXECUTE_RATE_LIMIT = 1
    user = make_user(permissions=(RUN,))
    run = finished_run(make_agent(api_enabled=True), user=user)
    login(client, user)
    assert client.post(reverse("run_again", args=[run.execution_id])).status_code == 302
    refused = client.post(reverse("run_again", args=[run.execution_id]))
    assert refused.status_code == 409 and 'id="run-again-refused"' in refused.content.decode()
    assert len(queued_tasks()) == 1


@pytest.mark.django_db
def test_a_run_the_user_may_not_see_cannot_be_run_again(client, alive):
    owner, other = make_user(permissions=(RUN,)), make_user(permissions=(RUN,))
    run = finished_run(make_agent(api_enabled=True), user=owner)
    login(client, other)
    assert client.post(reverse("run_again", args=[run.execution_id])).status_code == 404
    assert client.get(reverse("run_again", args=[run.execution_id])).status_code == 405
    assert queued_tasks() == []


@pytest.mark.django_db
def test_edit_and_run_fills_the_agent_pages_form_with_the_runs_prompt(client):
    user = make_user(permissions=(RUN,))
    agent = make_agent(api_enabled=True)
    run = finished_run(agent, user=user, prompt="Check <b>this</b>")
    login(client, user)
    page = client.get(reverse("agent_detail", args=[agent.agent_id]), {"from": run.execution_id}).content.decode()
    assert ">Check &lt;b&gt;this&lt;/b&gt;</textarea>" in page
    # Someone else's run, or a run of another agent, fills nothing in.
    stranger = make_user(permissions=(RUN,))
    login(client, stranger)
    page = client.get(reverse("agent_detail", args=[agent.agent_id]), {"from": run.execution_id}).content.decode()
    assert "Check &lt;b&gt;" not in page
    login(client, user)
    other_agent = make_agent(api_enabled=True)
    page = client.get(reverse("agent_detail", args=[other_agent.agent_id]), {"from": run.execution_id}).content.decode()
    assert "Check &lt;b&gt;" not in page
