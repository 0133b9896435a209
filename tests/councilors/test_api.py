"""The JSON endpoints (docs/http-api.md, "HTTP API") in-process: success and every error path.

The SSE stream has test_sse.py.
"""

import json
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.models import OrmQ, Schedule

from conductor.api import UNAUTHORIZED
from councilors.api import UNKNOWN_AGENT, UNKNOWN_EXECUTION
from councilors.app_settings import app_settings
from councilors.models import ActionRecord, Agent, Execution
from councilors.runners.bounded import TRUNCATION_SLACK
from councilors.schemas import INSTANCE_ID_NUL
from councilors.services import agent_run, councilor_pause, councilor_run
from councilors.tasks import run_agent_task
from councilors.validators import PROMPT_EMPTY, PROMPT_MAX_LENGTH, PROMPT_NUL, PROMPT_TOO_LONG
from infrastructure.api_auth import FORBIDDEN, TOKEN_EXPIRED, TOKEN_INVALID
from infrastructure.api_errors import BODY_MISSING, BODY_NOT_JSON, BODY_NOT_OBJECT, FIELD_MESSAGES, INVALID
from infrastructure.tokens import token_mint
from tests.councilors.flood import OUTPUT_TRUNCATED_LINE, flood_config
from tests.factories import make_actor, make_agent, make_councilor, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def own_redis_keys(private_channel_prefix):
    """Rate-limit windows are keyed by user pk, which tests reuse: give each test its own keys."""


@pytest.fixture
def agent(db):
    """An agent the API may run (new agents are not available through it)."""
    return make_agent(api_enabled=True)


@pytest.fixture
def runner(db):
    return make_user(permissions=("councilors.run_agent",))


@pytest.fixture
def viewer(db):
    return make_user(permissions=("councilors.view_execution",))


def bearer(user, **kwargs) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token_mint(user=user, **kwargs)}"}


def execute(client: Client, agent_id: str, body, **headers):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(f"/api/agents/{agent_id}/execute", data, content_type="application/json", **headers)


def same_moment(text: str, moment: datetime) -> bool:
    """The API writes times to the millisecond (Django's JSON encoder)."""
    return abs(datetime.fromisoformat(text) - moment) < timedelta(milliseconds=1)


def queued_tasks() -> list[dict]:
    return [queued.task for queued in OrmQ.objects.all()]


# POST /api/agents/<agent_id>/execute


def test_execute_queues_the_run_and_answers_202_with_its_id_and_status_url(client, agent, runner):
    response = execute(client, agent.agent_id, {"prompt": "check", "instance_id": "inst-7"}, **bearer(runner))

    assert response.status_code == 202
    body = response.json()
    assert body["execution_id"].startswith(f"exec_{agent.agent_id}_")
    assert body["status_url"] == f"/api/executions/{body['execution_id']}"
    [task] = queued_tasks()
    assert task["func"] == "councilors.tasks.run_agent_task"
    assert task["name"] == body["execution_id"]
    assert task["args"] == (agent.agent_id, "check", "inst-7", body["execution_id"])

    queued = client.get(body["status_url"], **bearer(runner)).json()
    assert queued["status"] == "queued"
    assert queued["agent_id"] == agent.agent_id

    run_agent_task(*task["args"], **task["kwargs"])  # what the worker does with it (the real one: test_api_e2e.py)
    finished = client.get(body["status_url"], **bearer(runner)).json()
    assert finished["status"] == "completed"
    assert finished["severity"] == "success"
    assert finished["instance_id"] == "inst-7"
    assert finished["prompt"] == "check"
    assert finished["output"] == "all good\n"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({}, "prompt", FIELD_MESSAGES["missing"] % {"field": "prompt"}),
        ({"prompt": "   "}, "prompt", PROMPT_EMPTY),
        ({"prompt": "x" * (PROMPT_MAX_LENGTH + 1)}, "prompt", PROMPT_TOO_LONG % {"limit": 10_000, "length": 10_001}),
        ({"prompt": "a\x00b"}, "prompt", PROMPT_NUL),
        ({"prompt": 123}, "prompt", FIELD_MESSAGES["string_type"] % {"field": "prompt"}),
        ({"prompt": "ok", "instance_id": 7}, "instance_id", FIELD_MESSAGES["string_type"] % {"field": "instance_id"}),
        (
            {"prompt": "ok", "instance_id": "i" * 121},
            "instance_id",
            FIELD_MESSAGES["string_too_long"] % {"field": "instance_id", "max_length": 120},
        ),
        ({"prompt": "ok", "instance_id": "a\x00"}, "instance_id", INSTANCE_ID_NUL),
        ([{"prompt": "ok"}], "body", BODY_NOT_OBJECT),
        ("null", "body", BODY_NOT_OBJECT),
        ("", "body", BODY_MISSING),
    ],
)
def test_execute_refuses_a_bad_body_with_400_and_one_sentence_per_field(client, agent, runner, body, field, message):
    response = execute(client, agent.agent_id, body, **bearer(runner))

    assert response.status_code == 400
    assert response.json() == {
        "detail": INVALID % {"messages": message},
        "code": "invalid",
        "errors": [{"field": field, "message": message}],
    }
    assert "Value error" not in response.content.decode()
    assert queued_tasks() == []


def test_execute_names_every_bad_field(client, agent, runner):
    response = execute(client, agent.agent_id, {"prompt": "", "instance_id": "i" * 121}, **bearer(runner))
    assert [error["field"] for error in response.json()["errors"]] == ["prompt", "instance_id"]


def test_execute_refusals_are_in_the_language_the_client_asks_for(client, agent, runner):
    headers = {**bearer(runner), "HTTP_ACCEPT_LANGUAGE": "pt-BR,pt;q=0.9"}
    response = execute(client, agent.agent_id, {"prompt": " ", "instance_id": "i" * 121}, **headers)
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "prompt", "message": "O prompt não pode ficar vazio: diga o que o agente deve fazer."},
        {"field": "instance_id", "message": '"instance_id" deve ter no máximo 120 caracteres.'},
    ]
    assert response.json()["detail"].startswith("Pedido inválido: O prompt não pode ficar vazio")
    english = execute(client, agent.agent_id, {"prompt": " "}, **bearer(runner))
    assert english.json()["errors"][0]["message"] == PROMPT_EMPTY


def test_execute_takes_a_null_or_missing_instance_id_as_none_given(client, agent, runner):
    assert execute(client, agent.agent_id, {"prompt": "a", "instance_id": None}, **bearer(runner)).status_code == 202
    assert execute(client, agent.agent_id, {"prompt": "b"}, **bearer(runner)).status_code == 202
    assert [task["args"][2] for task in queued_tasks()] == ["", ""]


def test_execute_refuses_a_body_that_is_not_json(client, agent, runner):
    response = execute(client, agent.agent_id, "{not json", **bearer(runner))
    assert response.status_code == 400
    assert response.json() == {"detail": BODY_NOT_JSON, "code": "invalid"}
    assert queued_tasks() == []


def test_execute_without_credentials_is_401(client, agent):
    response = execute(client, agent.agent_id, {"prompt": "check"})
    assert response.status_code == 401
    assert response.json() == {"detail": UNAUTHORIZED, "code": "unauthorized"}
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("token", ["garbage", "expired"])
def test_execute_with_a_bad_or_expired_token_is_401(client, agent, runner, token):
    headers = bearer(runner, ttl_seconds=-10) if token == "expired" else {"HTTP_AUTHORIZATION": "Bearer garbage"}
    response = execute(client, agent.agent_id, {"prompt": "check"}, **headers)
    assert response.status_code == 401
    detail = TOKEN_EXPIRED if token == "expired" else TOKEN_INVALID
    assert response.json() == {"detail": detail, "code": "unauthorized"}
    assert queued_tasks() == []


def test_execute_without_the_run_permission_is_403(client, agent):
    response = execute(client, agent.agent_id, {"prompt": "check"}, **bearer(make_user()))
    assert response.status_code == 403
    assert response.json() == {"detail": FORBIDDEN % {"permission": "councilors.run_agent"}, "code": "forbidden"}
    assert queued_tasks() == []


def test_execute_an_unknown_agent_is_404(client, runner):
    response = execute(client, "nobody", {"prompt": "check"}, **bearer(runner))
    assert response.status_code == 404
    assert response.json() == {"detail": UNKNOWN_AGENT % {"agent_id": "nobody"}, "code": "not_found"}
    assert queued_tasks() == []


def test_one_user_flooding_execute_gets_429_and_others_do_not(client, agent, runner, settings):
    settings.API_EXECUTE_RATE_LIMIT = 3
    statuses = [execute(client, agent.agent_id, {"prompt": "go"}, **bearer(runner)).status_code for _ in range(3)]
    refused = execute(client, agent.agent_id, {"prompt": "go"}, **bearer(runner))
    other = make_user(permissions=("councilors.run_agent",))

    assert statuses == [202, 202, 202]
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert 0 < int(refused["Retry-After"]) <= 60  # the rest of the default 60 s window
    assert execute(client, agent.agent_id, {"prompt": "go"}, **bearer(other)).status_code == 202
    assert len(queued_tasks()) == 4


def test_execute_with_a_session_needs_the_csrf_token(agent, runner):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(runner)
    assert execute(browser, agent.agent_id, {"prompt": "go"}).status_code == 403

    csrf = "a" * 32
    browser.cookies["csrftoken"] = csrf
    response = execute(browser, agent.agent_id, {"prompt": "go"}, HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code == 202


# GET /api/executions/<execution_id>


def test_execution_get_returns_the_record(client, agent, runner):
    execution = agent_run(agent=agent, prompt="look", instance_id="i-1", requested_by=runner)

    response = client.get(f"/api/executions/{execution.execution_id}", **bearer(runner))

    assert response.status_code == 200
    body = response.json()
    assert body["execution_id"] == execution.execution_id
    assert body["agent_id"] == agent.agent_id
    assert body["councilor_id"] is None
    assert body["kind"] == "agent"
    assert body["instance_id"] == "i-1"
    assert body["status"] == "completed"
    assert body["severity"] == "success"
    assert body["output"] == "all good\n"
    assert body["duration_ms"] == execution.duration_ms
    assert same_moment(body["started_at"], execution.started_at)


def test_execution_get_of_a_fifty_megabyte_run_is_bounded_and_ends_with_the_marker(client):
    execution = agent_run(agent=make_agent(runner_config=flood_config()), prompt="flood")
    reader = make_user(permissions=("councilors.view_execution",))

    response = client.get(f"/api/executions/{execution.execution_id}", **bearer(reader))

    output = response.json()["output"]
    assert len(output.encode()) <= app_settings.OUTPUT_MAX_BYTES + TRUNCATION_SLACK
    assert output.endswith(f"\n{OUTPUT_TRUNCATED_LINE}\n")
    assert len(response.content) < 2 * app_settings.OUTPUT_MAX_BYTES  # JSON writes each line end as \n


def test_execution_get_of_a_councilor_run_names_the_councilor(client, councilor, viewer):
    execution = councilor_run(councilor=councilor)
    body = client.get(f"/api/executions/{execution.execution_id}", **bearer(viewer)).json()
    assert body["kind"] == "councilor"
    assert body["councilor_id"] == councilor.councilor_id


def test_execution_get_of_an_unknown_id_is_404(client, runner):
    response = client.get("/api/executions/exec_nope_1", **bearer(runner))
    assert response.status_code == 404
    assert response.json()["detail"] == UNKNOWN_EXECUTION % {"execution_id": "exec_nope_1"}


def test_execution_get_needs_authentication(client, agent):
    execution = agent_run(agent=agent, prompt="look")
    assert client.get(f"/api/executions/{execution.execution_id}").status_code == 401


# Each user sees what they may: the requester and holders of councilors.view_execution; others get
# the very 404 of an unknown id, since execution ids are public in events.


def executed_by(client: Client, user, agent) -> str:
    """What `user` gets back from execute: the id of a queued run of `agent`."""
    response = execute(client, agent.agent_id, {"prompt": "the secret plan"}, **bearer(user))
    assert response.status_code == 202
    return response.json()["execution_id"]


def run_queued_tasks() -> None:
    """What a worker does with each queued task (the real one: test_api_e2e.py)."""
    for queued in OrmQ.objects.all():
        task = queued.task
        run_agent_task(*task["args"], **task["kwargs"])
        queued.delete()


def assert_same_404_as_an_unknown_id(client: Client, execution_id: str, user) -> None:
    hidden = client.get(f"/api/executions/{execution_id}", **bearer(user))
    ghost_id = "exec_ghost_1"
    ghost = client.get(f"/api/executions/{ghost_id}", **bearer(user))
    assert (hidden.status_code, ghost.status_code) == (404, 404)
    assert hidden.json() == {"detail": UNKNOWN_EXECUTION % {"execution_id": execution_id}, "code": "not_found"}
    assert hidden.content.replace(execution_id.encode(), ghost_id.encode()) == ghost.content
    assert hidden["Content-Type"] == ghost["Content-Type"]


def test_another_user_cannot_read_my_execution_queued_or_finished(client, agent, runner):
    other = make_user(permissions=("councilors.run_agent",))
    execution_id = executed_by(client, runner, agent)

    assert_same_404_as_an_unknown_id(client, execution_id, other)  # while it waits in the queue
    run_queued_tasks()
    assert_same_404_as_an_unknown_id(client, execution_id, other)  # and once it ran
    assert "the secret plan" not in client.get(f"/api/executions/{execution_id}", **bearer(other)).content.decode()


def test_the_requester_reads_their_execution_queued_and_finished(client, agent, runner):
    execution_id = executed_by(client, runner, agent)
    queued = client.get(f"/api/executions/{execution_id}", **bearer(runner))
    assert (queued.status_code, queued.json()["status"]) == (200, "queued")

    run_queued_tasks()

    finished = client.get(f"/api/executions/{execution_id}", **bearer(runner))
    assert finished.status_code == 200
    assert (finished.json()["prompt"], finished.json()["output"]) == ("the secret plan", "all good\n")
    assert Execution.objects.get(execution_id=execution_id).requested_by == runner


@pytest.mark.parametrize("who", ["viewer", "superuser"])
def test_a_user_with_the_view_permission_reads_anyones_execution(client, agent, runner, viewer, who):
    reader = viewer if who == "viewer" else make_user(is_staff=True, is_superuser=True)
    execution_id = executed_by(client, runner, agent)
    assert client.get(f"/api/executions/{execution_id}", **bearer(reader)).json()["status"] == "queued"
    run_queued_tasks()
    response = client.get(f"/api/executions/{execution_id}", **bearer(reader))
    assert response.status_code == 200
    assert response.json()["prompt"] == "the secret plan"


def test_staff_without_the_view_permission_cannot_read_others_executions(client, agent, runner):
    execution_id = executed_by(client, runner, agent)
    run_queued_tasks()
    assert_same_404_as_an_unknown_id(client, execution_id, make_user(is_staff=True))


def test_scheduled_and_command_line_runs_are_visible_only_with_the_view_permission(client, councilor, runner, viewer):
    execution = councilor_run(councilor=councilor)  # nobody asked: requested_by is null
    assert_same_404_as_an_unknown_id(client, execution.execution_id, runner)
    assert client.get(f"/api/executions/{execution.execution_id}", **bearer(viewer)).status_code == 200


# Agents available through the API


def test_execute_on_an_agent_not_available_through_the_api_is_404_like_an_unknown_agent(client, runner):
    hidden = make_agent(api_enabled=False)
    response = execute(client, hidden.agent_id, {"prompt": "check"}, **bearer(runner))
    assert response.status_code == 404
    assert response.json() == {"detail": UNKNOWN_AGENT % {"agent_id": hidden.agent_id}, "code": "not_found"}
    assert queued_tasks() == []
    assert not ActionRecord.objects.exists()


def test_new_agents_are_not_available_through_the_api():
    assert Agent().api_enabled is False
    assert Agent._meta.get_field("api_enabled").verbose_name == "Available through the API"


# Every action on record: execute


def test_execute_is_recorded_with_who_from_where_and_the_execution_id(client, agent, runner):
    execution_id = executed_by(client, runner, agent)
    [record] = ActionRecord.objects.all()
    assert (record.actor, record.actor_name, record.action, record.source) == (
        runner,
        runner.username,
        ActionRecord.Action.EXECUTE,
        ActionRecord.Source.API,
    )
    assert (record.target, record.execution_id, record.address) == (agent.agent_id, execution_id, "127.0.0.1")


def test_an_execute_refused_by_validation_records_nothing(client, agent, runner):
    assert execute(client, agent.agent_id, {"prompt": " "}, **bearer(runner)).status_code == 400
    assert not ActionRecord.objects.exists()


# GET /api/agents/metrics


def test_agents_metrics_lists_every_agent_with_metrics_from_its_executions(client):
    good = make_agent(name="Good")
    flaky = make_agent(name="Flaky", runner_config={"argv": ["sh", "-c", "echo failed; exit 1"], "timeout": 10})
    agent_run(agent=good, prompt="x")
    agent_run(agent=flaky, prompt="x")
    agent_run(agent=flaky, prompt="x")
    idle = make_agent(name="Idle")

    response = client.get("/api/agents/metrics", **bearer(make_user()))

    assert response.status_code == 200
    by_id = {item["agent_id"]: item for item in response.json()}
    assert by_id[good.agent_id]["agent_name"] == "Good"
    assert by_id[good.agent_id]["metrics"]["total_executions"] == 1
    assert by_id[good.agent_id]["metrics"]["success_rate"] == 100.0
    assert by_id[good.agent_id]["metrics"]["last_severity"] == "success"
    assert by_id[flaky.agent_id]["metrics"]["total_executions"] == 2
    assert by_id[flaky.agent_id]["metrics"]["success_rate"] == 0.0
    assert by_id[flaky.agent_id]["metrics"]["last_severity"] == "error"
    assert by_id[idle.agent_id]["metrics"]["total_executions"] == 0
    assert by_id[idle.agent_id]["metrics"]["last_execution"] is None


def test_agents_metrics_needs_authentication(client, agent):
    assert client.get("/api/agents/metrics").status_code == 401


def test_agents_metrics_accepts_a_session(client, agent):
    client.force_login(make_user())
    assert client.get("/api/agents/metrics").status_code == 200


# GET /api/councilors


def councilors_by_id(client) -> dict[str, dict]:
    response = client.get("/api/councilors", **bearer(make_user()))
    assert response.status_code == 200
    return {item["councilor_id"]: item for item in response.json()}


def test_councilors_lists_schedule_enabled_and_last_run(client, councilor):
    execution = councilor_run(councilor=councilor)
    Schedule.objects.all().delete()  # no django-q2 schedule: next run computed from the last run and the interval

    item = councilors_by_id(client)[councilor.councilor_id]

    assert item["title"] == councilor.title
    assert item["task_name"] == "Security audit"
    assert item["schedule"] == {"type": "interval", "value": "30m"}
    assert item["enabled"] is True
    assert item["last_run"]["execution_id"] == execution.execution_id
    assert item["last_run"]["status"] == "completed"
    assert item["last_run"]["severity"] == "success"
    assert same_moment(item["next_run"], execution.started_at + timedelta(minutes=30))


def test_councilors_next_run_comes_from_the_django_q_schedule_when_there_is_one(client, councilor):
    due = timezone.now() + timedelta(minutes=7)
    schedule = councilor.q_schedule  # the scheduling code gives every enabled councilor one
    schedule.next_run = due
    schedule.save()
    other = make_councilor()

    items = councilors_by_id(client)

    assert same_moment(items[councilor.councilor_id]["next_run"], due)
    assert not same_moment(items[other.councilor_id]["next_run"], due)


def test_councilors_next_run_of_a_cron_councilor_follows_the_expression(client):
    councilor = make_councilor(schedule_type="cron", schedule_value="15 3 * * *")
    next_run = datetime.fromisoformat(councilors_by_id(client)[councilor.councilor_id]["next_run"])
    assert (next_run.hour, next_run.minute, next_run.second) == (3, 15, 0)
    assert timedelta(0) < next_run - timezone.now() <= timedelta(days=1)


def test_a_paused_councilor_has_no_next_run(client, councilor):
    councilor_pause(councilor=councilor, actor=make_actor("admin"))
    item = councilors_by_id(client)[councilor.councilor_id]
    assert item["enabled"] is False
    assert item["next_run"] is None
    assert item["last_run"] is None


def test_councilors_are_read_in_as_many_queries_however_many_there_are(client):
    headers = bearer(make_user())

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/api/councilors", **headers).status_code == 200
        return len(captured)

    councilor_run(councilor=make_councilor())
    few = queries()
    for _ in range(3):
        councilor_run(councilor=make_councilor())
    assert queries() == few


def test_councilors_needs_authentication(client, councilor):
    assert client.get("/api/councilors").status_code == 401


# The schema


def test_the_openapi_schema_is_served_with_every_endpoint(client):
    schema = client.get("/api/openapi.json").json()
    assert set(schema["paths"]) >= {
        "/api/agents/{agent_id}/execute",
        "/api/executions/{execution_id}",
        "/api/agents/metrics",
        "/api/councilors",
        "/api/v1/stream",
    }
    assert "202" in schema["paths"]["/api/agents/{agent_id}/execute"]["post"]["responses"]
    client.force_login(make_user(is_staff=True))  # the interactive docs are for staff (tests/conductor/test_api.py)
    assert client.get("/api/docs").status_code == 200
