"""/healthz and /metrics in-process (a healthy deployment with a real worker: tests/councilors/test_api_e2e.py)."""

import logging
import re
import sys

import httpx
import pytest
import redis
from django.core.cache import caches
from prometheus_client import REGISTRY

from councilors.services import agent_run
from gamification import metrics
from infrastructure.tokens import token_mint
from monitoring import health as monitoring
from monitoring.health import CHECK_FAILED, NO_WORKERS
from tests.factories import make_agent, make_user
from tests.processes import daphne, free_port


def test_healthz_without_a_worker_cluster_is_503_naming_workers(client, db):
    caches["q"].clear()  # no heartbeat left by a cluster another test stopped
    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failing"] == ["workers"]
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["redis"] == {"ok": True}
    assert body["checks"]["workers"] == {"ok": False, "clusters": 0, "error": NO_WORKERS}


def test_healthz_with_redis_down_names_redis_and_logs_why(client, db, monkeypatch, caplog):
    dead = redis.Redis(port=free_port(), socket_connect_timeout=0.5, socket_timeout=0.5)
    monkeypatch.setattr(monitoring, "redis_sync", lambda: dead)

    with caplog.at_level(logging.WARNING, logger="monitoring.health"):
        body = client.get("/healthz").json()

    assert "redis" in body["failing"]
    assert body["checks"]["redis"] == {"ok": False, "error": CHECK_FAILED}
    assert "ConnectionError" in caplog.text  # the details go to the log only
    assert body["checks"]["database"] == {"ok": True}


def test_healthz_shows_no_exception_text(client, db, monkeypatch):
    # An exception's text can name hosts, users and paths: /healthz is open to anyone.
    def leaky() -> None:
        raise RuntimeError("connect to postgres://admin:hunter2@db.internal:5432 failed")

    monkeypatch.setitem(monitoring.CHECKS, "database", leaky)

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {"ok": False, "error": CHECK_FAILED}
    for secret in ("hunter2", "db.internal", "RuntimeError", "postgres://"):
        assert secret not in response.content.decode()


def test_metrics_needs_authentication(client, db):
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


def test_metrics_can_be_made_public(client, db, settings):
    settings.API_METRICS_PUBLIC = True
    assert client.get("/metrics").status_code == 200


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (labels in any order)."""
    for line in text.splitlines():
        match = re.fullmatch(r"([a-zA-Z_:]+)(?:\{(.*)\})? (\S+)", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if found == labels:
            return float(match.group(3))
    raise AssertionError(f"no sample {name}{labels}")


@pytest.mark.django_db(transaction=True)
def test_metrics_report_events_emitted_and_runs_by_status_severity_and_duration(client):
    before = REGISTRY.get_sample_value("conductor_events_emitted_total", {"type": "agent_execution_completed"}) or 0
    agent_run(agent=make_agent(), prompt="x")
    failing = make_agent(runner_config={"argv": [sys.executable, "-c", "raise SystemExit(1)"], "timeout": 10})
    agent_run(agent=failing, prompt="x")

    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token_mint(user=make_user())}")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert sample(text, "conductor_events_emitted_total", type="agent_execution_completed") == before + 2
    assert sample(text, "conductor_runs", status="completed", severity="success") == 1
    assert sample(text, "conductor_runs", status="error", severity="error") == 1
    assert sample(text, "conductor_run_duration_seconds_count") == 2
    assert sample(text, "conductor_run_duration_seconds_bucket", le="+Inf") == 2
    assert sample(text, "conductor_run_duration_seconds_bucket", le="60.0") == 2
    assert sample(text, "conductor_run_duration_seconds_sum") > 0


def test_gateway_helpers_move_the_delivery_and_connection_metrics():
    delivered = REGISTRY.get_sample_value("conductor_events_delivered_total", {"type": "system_alert"}) or 0
    open_now = REGISTRY.get_sample_value("conductor_websocket_connections") or 0

    metrics.event_delivered("system_alert", count=3)
    metrics.connection_opened()
    metrics.connection_opened()
    metrics.connection_closed()

    assert REGISTRY.get_sample_value("conductor_events_delivered_total", {"type": "system_alert"}) == delivered + 3
    assert REGISTRY.get_sample_value("conductor_websocket_connections") == open_now + 1


@pytest.mark.slow
def test_healthz_on_a_gateway_whose_database_is_down_is_503_naming_it(tmp_path):
    # A real daphne pointed at a PostgreSQL port where nothing listens.
    log = tmp_path / "daphne.log"
    with daphne(DATABASE_URL=f"postgres://postgres@127.0.0.1:{free_port()}/nothing", log_path=log) as (_, port):
        response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=30)

    assert response.status_code == 503
    body = response.json()
    assert "database" in body["failing"]
    assert body["checks"]["database"] == {"ok": False, "error": CHECK_FAILED}
    assert "OperationalError" not in response.text
    assert "OperationalError" in log.read_text()  # the details are in the gateway's log
    assert body["checks"]["redis"] == {"ok": True}
