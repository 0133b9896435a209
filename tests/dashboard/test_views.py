import json
import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django_q.models import Schedule

from councilors.services import councilor_run, execution_start
from dashboard.selectors import COUNCILORS_URL, METRICS_URL
from infrastructure.timestamps import iso_utc
from tests.factories import make_councilor

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
