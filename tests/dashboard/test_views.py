import json
import re
import sys
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import timezone
from django_q.models import Schedule

from councilors.models import Execution, RunIncident
from councilors.output_stream import OutputPublisher
from councilors.services import agent_enqueue, agent_run, councilor_run, execution_start
from dashboard.selectors import COUNCILORS_URL, METRICS_URL
from infrastructure.timestamps import iso_utc
from tests.factories import make_actor, make_agent, make_councilor

CONFIG = re.compile(r'<script id="dashboard-config" type="application/json">(.*?)</script>', re.S)


def _config(response) -> dict:
    return json.loads(CONFIG.search(response.content.decode()).group(1))


@pytest.fixture
def viewer(db):
    return get_user_model().objects.create_user("bob", password="pw")


@pytest.fixture
def controller(db):
    user = get_user_model().objects.create_user("ada", password="pw")
    user.user_permissions.add(Permission.objects.get(codename="change_councilor"))
    return user


def test_anonymous_visitors_are_sent_to_the_admin_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/"


def test_the_page_loads_the_client_as_an_es_module_with_its_config(client, viewer, councilor):
    client.force_login(viewer)
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<script type="module" src="/static/js/dashboard/main.js"></script>' in html
    config = _config(response)
    assert config["canControl"] is False
    assert config["metricsUrl"] == METRICS_URL == "/api/agents/metrics"
    assert config["councilorsUrl"] == COUNCILORS_URL == "/api/councilors"
    assert config["pollIntervalMs"] == 30000
    assert config["socketUrl"] == ""
    assert [row["councilor_id"] for row in config["councilors"]] == [councilor.councilor_id]
    assert [agent["agent_id"] for agent in config["agents"]] == [councilor.councilor_id]
    assert 'data-action="pause"' not in html


def test_users_who_may_change_councilors_get_the_controls(client, controller, councilor):
    client.force_login(controller)
    assert _config(client.get("/"))["canControl"] is True


def test_settings_reach_the_page(client, viewer, settings):
    settings.DASHBOARD_SOCKET_URL = "wss://events.example.org/ws/gamification"
    settings.DASHBOARD_POLL_INTERVAL_S = 1.5
    settings.DASHBOARD_TICKER_SIZE = 5
    client.force_login(viewer)
    config = _config(client.get("/"))
    assert config["socketUrl"] == "wss://events.example.org/ws/gamification"
    assert config["pollIntervalMs"] == 1500
    assert config["tickerSize"] == 5


def test_rows_carry_the_last_run_and_which_severities_toast(client, viewer):
    toasting = make_councilor(notification_channels=["panel", "toast"], notify_on_success=True)
    quiet = make_councilor(notification_channels=["email"])
    execution = councilor_run(councilor=toasting)
    client.force_login(viewer)
    rows = {row["councilor_id"]: row for row in _config(client.get("/"))["councilors"]}
    assert rows[toasting.councilor_id]["toast"] == {"success": True, "warning": True, "error": True}
    assert rows[toasting.councilor_id]["last_severity"] == "success"
    assert rows[toasting.councilor_id]["last_duration_ms"] == execution.duration_ms
    assert rows[toasting.councilor_id]["last_execution_id"] == execution.execution_id
    assert rows[toasting.councilor_id]["status"] == "idle"
    assert rows[quiet.councilor_id]["toast"] is None
    assert rows[quiet.councilor_id]["last_run"] is None


def test_a_running_councilor_shows_as_running(client, viewer, councilor):
    execution = execution_start(agent=councilor.agent, councilor=councilor, prompt="go")
    client.force_login(viewer)
    (row,) = _config(client.get("/"))["councilors"]
    assert row["status"] == "running"
    assert row["running_execution_id"] == execution.execution_id


def test_event_data_cannot_inject_markup(client, viewer):
    make_councilor(title="</script><script>alert(1)</script>")
    client.force_login(viewer)
    html = client.get("/").content.decode()
    assert "</script><script>alert(1)" not in html


@pytest.mark.parametrize("path", ["/static/js/dashboard/main.js", "/static/js/gamification/socket.js"])
def test_static_modules_are_served_with_debug_off(client, settings, path):
    assert settings.DEBUG is False
    response = client.get(path)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")


def test_the_stylesheet_is_served(client):
    response = client.get("/static/css/dashboard.css")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")


def test_rows_carry_the_next_run_of_the_django_q2_schedule(client, viewer):
    active = make_councilor(schedule_value="30m")
    paused = make_councilor(enabled=False)
    client.force_login(viewer)
    rows = {row["councilor_id"]: row for row in _config(client.get("/"))["councilors"]}
    active.refresh_from_db()
    assert rows[active.councilor_id]["next_run"] == iso_utc(active.q_schedule.next_run)
    assert rows[paused.councilor_id]["next_run"] is None


def test_rows_estimate_the_next_run_as_the_api_does_while_the_schedule_is_gone(client, viewer):
    councilor = make_councilor(schedule_value="30m")
    execution = councilor_run(councilor=councilor)
    Schedule.objects.all().delete()  # until the reaper gives it a new one
    client.force_login(viewer)
    (row,) = _config(client.get("/"))["councilors"]
    assert row["enabled"] is True
    assert row["next_run"] == iso_utc(execution.started_at + timedelta(minutes=30))


def test_rows_carry_the_schedule_as_people_read_it(client, viewer):
    interval = make_councilor(schedule_value="45m")
    cron = make_councilor(schedule_type="cron", schedule_value="0 6 * * 1")
    client.force_login(viewer)
    rows = {row["councilor_id"]: row for row in _config(client.get("/"))["councilors"]}
    assert rows[interval.councilor_id]["schedule"] == "every 45m"
    assert rows[cron.councilor_id]["schedule"] == "cron 0 6 * * 1"


# The run page and the agent page (docs/dashboard.md, "Run page" and "Agent page").

RUN_CONFIG = re.compile(r'<script id="run-config" type="application/json">(.*?)</script>', re.S)
AGENT_CONFIG = re.compile(r'<script id="agent-config" type="application/json">(.*?)</script>', re.S)


def _json(pattern: re.Pattern, response) -> dict:
    return json.loads(pattern.search(response.content.decode()).group(1))


@pytest.fixture
def inspector(db):
    """May read every run's prompt and output."""
    user = get_user_model().objects.create_user("ines", password="pw")
    user.user_permissions.add(Permission.objects.get(codename="view_execution"))
    return user


def _finished_run(**fields):
    agent = make_agent(runner_config={"argv": [sys.executable, "-c", "print('one'); print('two')"], "timeout": 10})
    return agent_run(agent=agent, prompt="Check the <open> ports", **fields)


def test_a_finished_run_page_shows_its_prompt_output_and_result(client, inspector):
    execution = _finished_run()
    client.force_login(inspector)
    response = client.get(f"/executions/{execution.execution_id}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Check the &lt;open&gt; ports" in html
    assert re.search(r'<div class="line" data-n="1"[^>]*>one</div><div class="line" data-n="2"[^>]*>two</div>', html)
    # One verdict for status and severity (councilors/verdicts.py), not two badges.
    assert 'id="run-status" data-status="completed" data-severity="success" data-verdict="succeeded"' in html
    assert "run-severity" not in html
    config = _json(RUN_CONFIG, response)
    assert config["live"] is False
    assert config["lastLine"] == 2
    assert config["streamUrl"] == "/api/v1/stream"
    assert config["agentUrl"] == f"/agents/{execution.agent.agent_id}/"


def test_a_running_run_page_renders_the_lines_published_so_far_and_streams_after_them(client, inspector):
    agent = make_agent()
    execution = execution_start(agent=agent, prompt="go")
    publisher = OutputPublisher(execution_id=execution.execution_id)
    publisher("first\nsecond\nthird\n")
    client.force_login(inspector)
    response = client.get(f"/executions/{execution.execution_id}/")
    html = response.content.decode()
    assert html.count('<div class="line" data-n="') == 3
    config = _json(RUN_CONFIG, response)
    assert (config["live"], config["lastLine"], config["status"]) == (True, 3, "running")


def test_a_queued_run_page_waits_for_its_output(client, inspector):
    agent = make_agent()
    execution_id = agent_enqueue(agent=agent, prompt="later", actor=make_actor())
    client.force_login(inspector)
    response = client.get(f"/executions/{execution_id}/")
    assert response.status_code == 200
    config = _json(RUN_CONFIG, response)
    assert (config["status"], config["live"], config["lastLine"]) == ("queued", True, 0)
    assert "later" not in response.content.decode(), "the prompt comes from the API once the run started"


def test_someone_elses_run_is_404_exactly_like_an_unknown_one(client, viewer):
    execution = _finished_run()
    client.force_login(viewer)
    hidden = client.get(f"/executions/{execution.execution_id}/")
    unknown = client.get("/executions/exec_nothing_here/")
    assert hidden.status_code == unknown.status_code == 404
    assert "Check the" not in hidden.content.decode()
    assert "one" not in hidden.content.decode()


def test_the_run_page_needs_a_login(client):
    response = client.get("/executions/exec_x/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def _runs(agent, count: int, **fields):
    now = timezone.now()
    return [
        Execution.objects.create(
            execution_id=f"exec_{agent.agent_id}_{index}",
            agent=agent,
            kind="agent",
            status=fields.get("status", "completed"),
            severity=fields.get("severity", "success"),
            started_at=now - timedelta(minutes=count - index),
            completed_at=now - timedelta(minutes=count - index) + timedelta(seconds=1),
            duration_ms=1000 + index,
        )
        for index in range(count)
    ]


def _row_ids(response) -> list[str]:
    return re.findall(r'<tr data-execution-id="([^"]+)"', response.content.decode())


def test_the_agent_page_lists_runs_newest_first_paginated(client, viewer, settings):
    settings.DASHBOARD_RUNS_PAGE_SIZE = 5
    councilor = make_councilor(schedule_value="45m")
    runs = _runs(councilor.agent, 7)
    client.force_login(viewer)
    first = client.get(f"/agents/{councilor.councilor_id}/")
    assert first.status_code == 200
    assert _row_ids(first) == [run.execution_id for run in reversed(runs)][:5]
    html = first.content.decode()
    assert "every 45m" in html
    assert f'href="/executions/{runs[-1].execution_id}/"' in html
    assert 'rel="next" href="?page=2&amp;severity=&amp;status="' in html
    second = client.get(f"/agents/{councilor.councilor_id}/?page=2")
    assert _row_ids(second) == [runs[1].execution_id, runs[0].execution_id]
    config = _json(AGENT_CONFIG, first)
    assert config["firstPage"] is True
    assert _json(AGENT_CONFIG, second)["firstPage"] is False
    assert [point["execution_id"] for point in config["trend"]] == [run.execution_id for run in runs]
    assert config["runUrl"] == "/executions/__id__/"
    assert config["executeUrl"] == f"/api/agents/{councilor.councilor_id}/execute"


def test_the_agent_page_filters_by_severity_and_status(client, viewer):
    agent = make_agent()
    ok = _runs(agent, 2)
    failed = Execution.objects.create(
        execution_id=f"exec_{agent.agent_id}_failed",
        agent=agent,
        kind="agent",
        status="error",
        severity="error",
        started_at=timezone.now(),
        completed_at=timezone.now(),
        duration_ms=5,
    )
    client.force_login(viewer)
    assert _row_ids(client.get(f"/agents/{agent.agent_id}/?severity=error")) == [failed.execution_id]
    assert _row_ids(client.get(f"/agents/{agent.agent_id}/?status=completed")) == [
        ok[1].execution_id,
        ok[0].execution_id,
    ]
    assert len(_row_ids(client.get(f"/agents/{agent.agent_id}/?severity=bogus"))) == 3, "an unknown filter is no filter"


def test_the_run_form_is_for_users_who_may_run_agents(client, viewer):
    agent = make_agent(api_enabled=True)
    runner = get_user_model().objects.create_user("rita", password="pw")
    runner.user_permissions.add(Permission.objects.get(codename="run_agent"))
    client.force_login(viewer)
    assert 'id="run-form"' not in client.get(f"/agents/{agent.agent_id}/").content.decode()
    client.force_login(runner)
    assert 'id="run-form"' in client.get(f"/agents/{agent.agent_id}/").content.decode()


def test_an_agent_not_available_through_the_api_says_where_to_run_it_instead_of_a_form(client, db):
    # The form posts to the API's execute, which would answer "No agent with agent_id …".
    agent = make_agent(api_enabled=False)
    runner = get_user_model().objects.create_user("rita", password="pw")
    runner.user_permissions.add(Permission.objects.get(codename="run_agent"))
    client.force_login(runner)
    html = client.get(f"/agents/{agent.agent_id}/").content.decode()
    assert 'id="run-form"' not in html
    assert 'id="run-elsewhere"' in html


def test_the_staff_controls_are_for_councilors_and_those_who_may_change_them(client, controller, viewer):
    councilor = make_councilor()
    agent = make_agent()
    client.force_login(controller)
    assert _json(AGENT_CONFIG, client.get(f"/agents/{councilor.councilor_id}/"))["canControl"] is True
    assert _json(AGENT_CONFIG, client.get(f"/agents/{agent.agent_id}/"))["canControl"] is False
    client.force_login(viewer)
    assert _json(AGENT_CONFIG, client.get(f"/agents/{councilor.councilor_id}/"))["canControl"] is False


def test_an_unknown_agent_is_404(client, viewer):
    client.force_login(viewer)
    assert client.get("/agents/nobody/").status_code == 404


def test_rows_and_cards_link_to_the_agent_and_run_pages(client, viewer):
    councilor = make_councilor()
    execution = councilor_run(councilor=councilor)
    client.force_login(viewer)
    response = client.get("/")
    html = response.content.decode()
    assert f'href="/agents/{councilor.councilor_id}/"' in html
    assert f'href="/executions/{execution.execution_id}/"' in html
    config = _config(response)
    assert config["runUrl"] == "/executions/__id__/"
    assert config["agentUrl"] == "/agents/__id__/"
    (card,) = config["agents"]
    assert [point["execution_id"] for point in card["trend"]] == [execution.execution_id]


def test_an_open_incident_shows_in_the_councilors_table_in_the_reader_s_language(client, viewer, councilor):
    RunIncident.objects.create(councilor=councilor, kind="stuck", key="exec_x", raised_at=timezone.now())
    RunIncident.objects.create(
        councilor=councilor, kind="late", key="t", raised_at=timezone.now(), resolved_at=timezone.now()
    )
    client.force_login(viewer)
    response = client.get("/")
    [row] = _config(response)["councilors"]
    assert row["incidents"] == ["stuck"]
    assert 'data-incident="stuck">Stuck</span>' in response.content.decode()
    assert 'data-incident="late"' not in response.content.decode()
    portuguese = client.get("/", HTTP_ACCEPT_LANGUAGE="pt-BR").content.decode()
    assert 'data-incident="stuck">Travado</span>' in portuguese
