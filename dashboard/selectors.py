"""Reads for the dashboard page: the first picture of councilors and agents, before live events."""

from typing import TypedDict

from django.contrib.auth.models import AbstractBaseUser
from django.urls import reverse, reverse_lazy

from councilors.concurrency import queue_place
from councilors.models import Agent, Councilor, Execution
from councilors.run_errors import run_error_patterns
from councilors.scheduling import councilor_next_run
from councilors.selectors import (
    TREND_RUNS,
    AgentMetrics,
    TrendPoint,
    agents_metrics_list,
    agents_trends_list,
    councilors_incidents_open,
    councilors_overview,
)
from dashboard.app_settings import app_settings
from infrastructure.timestamps import iso_utc_or_none

CONTROL_PERMISSION = "councilors.change_councilor"
# Cancel any run from the councilors table (a run's requester may cancel theirs from its page).
CANCEL_PERMISSION = "councilors.cancel_execution"
TOAST_CHANNEL = "toast"
# The API's routes are named in councilors/api.py (url_name=), under the "api" namespace.
METRICS_URL = reverse_lazy("api:agents_metrics")
COUNCILORS_URL = reverse_lazy("api:councilors_list")
EVENTS_URL = reverse_lazy("api:events_since")
# Stands for an id in the URL templates the pages' scripts fill in (a slug, as ids are).
ID_PLACEHOLDER = "__id__"


class ToastRule(TypedDict):
    success: bool
    warning: bool
    error: bool


class CouncilorRow(TypedDict):
    councilor_id: str
    title: str
    task_name: str
    emoji: str
    color: str
    enabled: bool
    schedule: str
    toast: ToastRule | None
    status: str  # running | queued | idle
    running_execution_id: str | None
    queue_place: int | None
    last_execution_id: str | None
    last_severity: str | None
    last_status: str | None  # how the last finished run ended: completed, error, cancelled, timed_out
    last_duration_ms: int | None
    last_run: str | None
    next_run: str | None
    incidents: list[str]


class AgentCard(TypedDict):
    agent_id: str
    name: str
    emoji: str
    color: str
    metrics: AgentMetrics
    trend: list[TrendPoint]


def page_links() -> dict[str, str]:
    """URL templates of the run and agent pages, for scripts that link events to them."""
    return {
        "runUrl": reverse("run_detail", kwargs={"execution_id": ID_PLACEHOLDER}),
        "agentUrl": reverse("agent_detail", kwargs={"agent_id": ID_PLACEHOLDER}),
        "socketUrl": app_settings.SOCKET_URL,
        "trendSize": TREND_RUNS,
    }


def _toast_rule(councilor: Councilor) -> ToastRule | None:
    """Which severities pop a toast: those the councilor notifies on, when `toast` is a channel."""
    if TOAST_CHANNEL not in (councilor.notification_channels or []):
        return None
    return ToastRule(
        success=councilor.notify_on_success, warning=councilor.notify_on_warning, error=councilor.notify_on_error
    )


def dashboard_councilors_list() -> list[CouncilorRow]:
    """Every councilor with its last and next run, in one query."""
    rows = []
    incidents = councilors_incidents_open()
    for councilor in councilors_overview():
        # A queued run is in flight too: the row links to it and says its place in the queue.
        running = councilor.last_status in Execution.IN_FLIGHT
        queued = councilor.last_status == Execution.Status.QUEUED
        rows.append(
            CouncilorRow(
                councilor_id=councilor.councilor_id,
                title=councilor.title,
                task_name=councilor.task_name,
                emoji=councilor.agent.emoji,
                color=councilor.agent.color,
                enabled=councilor.enabled,
                schedule=councilor.schedule_label,
                toast=_toast_rule(councilor),
                status=councilor.last_status if running else "idle",
                running_execution_id=councilor.last_execution_id if running else None,
                queue_place=_queue_place(councilor.last_execution_id) if queued else None,
                last_execution_id=councilor.last_execution_id,
                last_severity=councilor.last_severity or None,
                last_status=None if running else councilor.last_status,
                last_duration_ms=councilor.last_duration_ms,
                last_run=iso_utc_or_none(councilor.last_started_at),
                next_run=iso_utc_or_none(
                    councilor_next_run(councilor=councilor, last_started=councilor.last_started_at)
                ),
                incidents=incidents.get(councilor.pk, []),
            )
        )
    return rows


def _queue_place(execution_id: str) -> int | None:
    execution = Execution.objects.filter(execution_id=execution_id).first()
    return queue_place(execution) if execution is not None else None


def dashboard_agents_list() -> list[AgentCard]:
    """Every agent with its metrics (derived from executions) and the trend of its latest runs."""
    metrics = agents_metrics_list()
    trends = agents_trends_list()
    return [
        AgentCard(
            agent_id=agent.agent_id,
            name=agent.label,
            emoji=agent.emoji,
            color=agent.color,
            metrics=metrics[agent.agent_id],
            trend=trends.get(agent.agent_id, []),
        )
        for agent in Agent.objects.all()
    ]


def dashboard_config_get(*, user: AbstractBaseUser) -> dict:
    """Everything the page's script starts from (rendered into the page with json_script)."""
    return {
        **page_links(),
        "pollIntervalMs": int(app_settings.POLL_INTERVAL_S * 1000),
        "tickerSize": app_settings.TICKER_SIZE,
        "metricsUrl": str(METRICS_URL),
        "councilorsUrl": str(COUNCILORS_URL),
        "eventsUrl": str(EVENTS_URL),
        "canControl": user.has_perm(CONTROL_PERMISSION),
        "canCancel": user.has_perm(CANCEL_PERMISSION),
        "username": user.get_username(),
        "councilors": dashboard_councilors_list(),
        "agents": dashboard_agents_list(),
        # The ticker and toasts word a run's error in the page's language, as the run pages do.
        "runErrorPatterns": run_error_patterns(),
    }
