"""Reads for the run page and the agent page (docs/dashboard.md, "Run page" and "Agent page")."""

import re
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.paginator import Page, Paginator
from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext_lazy as _

from councilors.cancellation import run_title, user_may_cancel
from councilors.concurrency import queue_place
from councilors.models import Agent, Councilor, Execution
from councilors.output_stream import published_line_times, published_lines, split_lines
from councilors.run_errors import run_error_patterns, run_error_text
from councilors.runners.base import DEFAULT_TIMEOUT_S
from councilors.scheduling import councilor_next_run
from councilors.selectors import (
    TREND_RUNS,
    QueuedRun,
    agent_executions_list,
    agent_find,
    agent_trend_get,
    execution_find_visible,
)
from dashboard.app_settings import app_settings
from dashboard.selectors import CONTROL_PERMISSION, page_links
from infrastructure.timestamps import iso_utc_or_none

RUN_PERMISSION = "councilors.run_agent"
QUEUED = "queued"
STREAM_URL = reverse_lazy("api:execution_stream")
# What a timed-out run's page says about the limit it hit (the error records only the seconds).
TIMED_OUT_SECONDS = re.compile(r"^timed out after (?P<seconds>[\d.]+)s$")
HIT_COUNCILOR_TIMEOUT = _("It was stopped by its councilor's timeout: %(seconds)s s.")
HIT_AGENT_TIMEOUT = _("It was stopped by its agent's timeout: %(seconds)s s.")
HIT_OLD_TIMEOUT = _("It was stopped by the timeout it had then: %(seconds)s s (changed since).")
SEVERITY_FILTERS = tuple(Execution.Severity.values)
STATUS_FILTERS = tuple(Execution.Status.values)


def _output_lines(execution: Execution) -> list[tuple[int, str]]:
    """The lines to render: the stored output of a finished run, the published lines of a running one."""
    if execution.status != Execution.Status.RUNNING:
        return list(enumerate(split_lines(execution.output), start=1))
    return published_lines(execution_id=execution.execution_id) or []


def _requester(run: Execution | QueuedRun) -> AbstractBaseUser | None:
    """Who asked for the run: known from the queue too, before a worker writes the record."""
    if isinstance(run, Execution):
        return run.requested_by
    if run.requested_by_id is None:
        return None
    return get_user_model().objects.filter(pk=run.requested_by_id).first()


def run_output_text(*, execution_id: str, user: AbstractBaseUser) -> str | None:
    """The raw output of a run `user` may see (the download), or None (a 404, as the run page)."""
    run = execution_find_visible(execution_id=execution_id, user=user)
    if run is None:
        return None
    if isinstance(run, QueuedRun):
        return ""
    lines = [line for _number, line in _output_lines(run)]
    return "\n".join(lines) + ("\n" if lines else "")


def timeout_text(execution: Execution) -> str:
    """For a timed-out run, which limit it hit: its councilor's `timeout_s` (which overrides) or its agent's."""
    match = TIMED_OUT_SECONDS.match(execution.error) if execution.status == Execution.Status.TIMED_OUT else None
    if match is None:
        return ""
    seconds = float(match["seconds"])
    values = {"seconds": f"{seconds:g}"}
    councilor = execution.councilor
    if councilor is not None and councilor.timeout_s is not None:
        return str(HIT_COUNCILOR_TIMEOUT if councilor.timeout_s == seconds else HIT_OLD_TIMEOUT) % values
    agent_timeout = execution.agent.runner_config.get("timeout", DEFAULT_TIMEOUT_S)
    return str(HIT_AGENT_TIMEOUT if agent_timeout == seconds else HIT_OLD_TIMEOUT) % values


def run_page_get(*, execution_id: str, user: AbstractBaseUser) -> dict[str, Any] | None:
    """What the run page shows, or None when there is no such run or `user` may not see it (a 404 either way)."""
    run = execution_find_visible(execution_id=execution_id, user=user)
    if run is None:
        return None
    queued = isinstance(run, QueuedRun)
    agent = agent_find(agent_id=run.agent_id) if queued else run.agent
    if agent is None:
        return None
    lines = [] if queued else _output_lines(run)
    times = {} if queued else published_line_times(execution_id=execution_id)
    last_line = lines[-1][0] if lines else 0
    status = run.status if isinstance(run, Execution) else QUEUED
    live = status in (QUEUED, Execution.Status.RUNNING)
    return {
        "queue_place": queue_place(run) if isinstance(run, Execution) else None,
        # "Run again" and "Edit and run" obey the rules of running the agent (councilors.rerun).
        "can_rerun": isinstance(run, Execution) and user.has_perm(RUN_PERMISSION) and agent.api_enabled,
        "run": run,
        "run_label": run_title(run) if isinstance(run, Execution) else agent.label,
        "timeout_text": timeout_text(run) if isinstance(run, Execution) else "",
        "can_cancel": live and user_may_cancel(execution=run, user=user),
        "queued": queued,
        "agent": agent,
        "requested_by": _requester(run),
        "error_text": run_error_text(getattr(run, "error", "")),
        "lines": [{"number": number, "text": line, "at": times.get(number)} for number, line in lines],
        "config": {
            "executionId": execution_id,
            "status": status,
            "severity": getattr(run, "severity", "") or "",
            "startedAt": iso_utc_or_none(getattr(run, "started_at", None)),
            "durationMs": getattr(run, "duration_ms", None),
            "streamUrl": str(STREAM_URL),
            "detailUrl": reverse("api:execution_get", kwargs={"execution_id": execution_id}),
            "lastLine": last_line,
            "live": live,
            "cancelUrl": reverse("api:execution_cancel", kwargs={"execution_id": execution_id}),
            "agentUrl": reverse("agent_detail", kwargs={"agent_id": agent.agent_id}),
            "runErrorPatterns": run_error_patterns(),
        },
    }


def _filter_value(value: str | None, allowed: tuple[str, ...]) -> str:
    return value if value in allowed else ""


def _councilor(agent: Agent) -> Councilor | None:
    try:
        return agent.councilor
    except Councilor.DoesNotExist:
        return None


def _run_row(execution: Execution) -> dict[str, Any]:
    return {
        "execution_id": execution.execution_id,
        "run_number": execution.run_number,
        "kind": execution.kind,
        "status": execution.status,
        "severity": execution.severity or None,
        "started_at": execution.started_at,
        "duration_ms": execution.duration_ms,
        "error": run_error_text(execution.error),
    }


def _prompt_of(execution_id: str | None, *, agent: Agent, user: AbstractBaseUser) -> str | None:
    """The prompt of a run of `agent` that `user` may see, or None."""
    run = execution_find_visible(execution_id=execution_id, user=user) if execution_id else None
    if not isinstance(run, Execution) or run.agent_id != agent.pk:
        return None
    return run.prompt


def agent_page_get(
    *,
    agent_id: str,
    user: AbstractBaseUser,
    page: str | None = None,
    severity: str | None = None,
    status: str | None = None,
    prompt_from: str | None = None,
) -> dict[str, Any] | None:
    """What the agent page shows (None for an unknown agent): definition, runs (filtered, paginated), trend.

    `prompt_from` (a run page's "Edit and run") fills the run form with that run's prompt, when it is
    a run of this agent that `user` may see.
    """
    agent = agent_find(agent_id=agent_id)
    if agent is None:
        return None
    councilor = _councilor(agent)
    filters = {
        "severity": _filter_value(severity, SEVERITY_FILTERS),
        "status": _filter_value(status, STATUS_FILTERS),
    }
    runs: Page = Paginator(agent_executions_list(agent=agent, **filters), app_settings.RUNS_PAGE_SIZE).get_page(page)
    last = agent_executions_list(agent=agent).first()
    can_control = councilor is not None and user.has_perm(CONTROL_PERMISSION)
    return {
        "agent": agent,
        "councilor": councilor,
        "next_run": councilor_next_run(councilor=councilor, last_started=last.started_at if last else None)
        if councilor
        else None,
        "runs": runs,
        "filters": filters,
        "severities": Execution.Severity.choices,
        "statuses": Execution.Status.choices,
        # The form posts to the API's execute, which answers 404 for an agent not available through it.
        "can_run": user.has_perm(RUN_PERMISSION) and agent.api_enabled,
        "run_elsewhere": user.has_perm(RUN_PERMISSION) and not agent.api_enabled,
        "prompt_prefill": _prompt_of(prompt_from, agent=agent, user=user),
        "config": {
            "agentId": agent.agent_id,
            "councilorId": councilor.councilor_id if councilor else None,
            "enabled": councilor.enabled if councilor else None,
            "canControl": can_control,
            "filters": filters,
            # New runs are added live on the first page only: later pages hold older runs.
            "firstPage": runs.number == 1,
            "trend": agent_trend_get(agent=agent),
            "trendSize": TREND_RUNS,
            "executeUrl": reverse("api:agent_execute", kwargs={"agent_id": agent.agent_id}),
            "runErrorPatterns": run_error_patterns(),
            **page_links(),
        },
        "rows": [_run_row(execution) for execution in runs.object_list],
    }
