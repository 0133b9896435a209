"""HTTP endpoints for agents, executions and councilors (docs/http-api.md, "HTTP API").

Each one parses, calls a service or selector, and answers.
"""

import uuid
from functools import partial
from typing import Any

from asgiref.sync import sync_to_async
from django.db import close_old_connections
from django.http import Http404, HttpRequest, StreamingHttpResponse
from django.urls import reverse
from django.utils.translation import gettext, gettext_noop
from ninja import Header, Query, Router, Schema, Status
from ninja.errors import HttpError

from councilors import cancellation, selectors, services
from councilors.audit import Actor, request_address
from councilors.models import ActionRecord, Councilor, Execution
from councilors.scheduling import councilor_next_run
from councilors.schemas import (
    AgentMetricsOut,
    CancelConflictOut,
    CancelOut,
    CouncilorOut,
    ErrorOut,
    ExecuteIn,
    ExecuteOut,
    ExecutionOut,
)
from councilors.sse import execution_output_events
from councilors.sse_limit import LeasedStream
from infrastructure.api_auth import ExecuteRateThrottle, api_auth

router = Router(tags=["councilors"])

RUN_PERMISSION = "councilors.run_agent"
UNKNOWN_AGENT = gettext_noop("No agent with agent_id %(agent_id)r.")
UNKNOWN_EXECUTION = gettext_noop("No execution with execution_id %(execution_id)r.")
LAST_EVENT_ID_INVALID = gettext_noop("Last-Event-ID must be a whole number (the id of the last event received).")
TOO_MANY_STREAMS = gettext_noop(
    "You have %(limit)s output streams open already (API_STREAM_MAX_PER_USER): close one, then try again."
)
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut}


@router.post(
    "/agents/{agent_id}/execute",
    response={202: ExecuteOut, 429: ErrorOut, **ERRORS},
    auth=api_auth(permission=RUN_PERMISSION),
    throttle=[ExecuteRateThrottle()],
    url_name="agent_execute",
)
def agent_execute(request: HttpRequest, agent_id: str, body: ExecuteIn):
    """Queue one run of the agent on a worker; follow it at `status_url` or stream its output."""
    # An agent not available through the API answers exactly as one that does not exist.
    agent = selectors.agent_find_for_api(agent_id=agent_id)
    if agent is None:
        raise Http404(gettext(UNKNOWN_AGENT) % {"agent_id": agent_id})
    actor = Actor.of_user(request.auth, source=ActionRecord.Source.API, address=request_address(request))
    execution_id = services.agent_enqueue(
        agent=agent, prompt=body.prompt, instance_id=body.instance_id or "", actor=actor
    )
    status_url = reverse("api:execution_get", kwargs={"execution_id": execution_id})
    return Status(202, {"execution_id": execution_id, "status_url": status_url})


def _execution_out(execution: Execution) -> dict:
    return {
        "execution_id": execution.execution_id,
        "agent_id": execution.agent.agent_id,
        "councilor_id": execution.agent.agent_id if execution.councilor_id else None,
        "kind": execution.kind,
        "instance_id": execution.instance_id,
        "prompt": execution.prompt,
        "status": execution.status,
        "severity": execution.severity or None,
        "output": execution.output,
        "error": execution.error,
        "started_at": execution.started_at,
        "completed_at": execution.completed_at,
        "duration_ms": execution.duration_ms,
        "run_number": execution.run_number,
        "cancelled_by": execution.cancelled_by_name,
    }


@router.get("/executions/{execution_id}", response={200: ExecutionOut, **ERRORS}, url_name="execution_get")
def execution_get(request: HttpRequest, execution_id: str):
    """One execution, to its requester or a holder of `councilors.view_execution` (404 to anyone else).

    `status` is `queued` while its task waits for a worker.
    """
    found = selectors.execution_find_visible(execution_id=execution_id, user=request.auth)
    if found is None:
        raise Http404(gettext(UNKNOWN_EXECUTION) % {"execution_id": execution_id})
    if isinstance(found, selectors.QueuedRun):
        return {"execution_id": execution_id, "agent_id": found.agent_id, "status": "queued"}
    return _execution_out(found)


@router.post(
    "/executions/{execution_id}/cancel",
    response={200: CancelOut, 409: CancelConflictOut, **ERRORS},
    url_name="execution_cancel",
)
def execution_cancel(request: HttpRequest, execution_id: str):
    """Cancel a run: 200 `cancelled` (it had not started) or `cancelling` (its worker stops it within 2 s).

    409 when it had already ended (its `status` says how); 404 when the caller may not see it; 403
    when they may see it but not cancel it (only its requester, or `councilors.cancel_execution`).
    """
    actor = Actor.of_user(request.auth, source=ActionRecord.Source.API, address=request_address(request))
    try:
        result = cancellation.execution_cancel(execution_id=execution_id, actor=actor)
    except cancellation.CancelRefused as refused:
        if refused.code == cancellation.CancelRefused.FORBIDDEN:
            raise HttpError(403, refused.message) from None
        raise Http404(refused.message) from None
    body = {
        "execution_id": result.execution_id,
        "outcome": result.outcome,
        "status": result.status,
        "run": result.run_title,
        "detail": result.message,
    }
    if result.outcome == cancellation.Outcome.ALREADY_ENDED:
        return Status(409, {**body, "code": result.outcome})
    return body


@router.get("/agents/metrics", response={200: list[AgentMetricsOut], **ERRORS}, url_name="agents_metrics")
def agents_metrics(request: HttpRequest):
    """Metrics of every agent, derived from its executions (the dashboard's fallback poll)."""
    return [
        {"agent_id": agent.agent_id, "agent_name": agent.label, "emoji": agent.emoji, "metrics": metrics}
        for agent, metrics in selectors.agents_with_metrics()
    ]


def _last_run_out(councilor: Councilor) -> dict | None:
    if councilor.last_execution_id is None:
        return None
    return {
        "execution_id": councilor.last_execution_id,
        "status": councilor.last_status,
        "severity": councilor.last_severity or None,
        "started_at": councilor.last_started_at,
        "completed_at": councilor.last_completed_at,
        "duration_ms": councilor.last_duration_ms,
    }


def _councilor_out(councilor: Councilor, incidents: dict[int, list[str]]) -> dict:
    return {
        "councilor_id": councilor.councilor_id,
        "title": councilor.title,
        "emoji": councilor.agent.emoji,
        "task_name": councilor.task_name,
        "schedule": {"type": councilor.schedule_type, "value": councilor.schedule_value},
        "enabled": councilor.enabled,
        "last_run": _last_run_out(councilor),
        "next_run": councilor_next_run(councilor=councilor, last_started=councilor.last_started_at),
        "incidents": incidents.get(councilor.pk, []),
    }


@router.get("/councilors", response={200: list[CouncilorOut], **ERRORS}, url_name="councilors_list")
def councilors_list(request: HttpRequest):
    """Every councilor with its schedule, whether it is enabled, its last and next run, and its open incidents."""
    incidents = selectors.councilors_incidents_open()
    return [_councilor_out(councilor, incidents) for councilor in selectors.councilors_overview()]


class StreamQuery(Schema):
    execution_id: str
    # For clients that cannot set the header on their first request (a browser's EventSource): a
    # page that rendered lines 1..n starts its stream with ?last_event_id=n. The header, sent on
    # every reconnect with the newest id, wins over it.
    last_event_id: str | None = None


SSE_DOC = {
    "responses": {
        200: {
            "description": "text/event-stream: `output` events (id = line number, data = the line), then one "
            "`end` event whose data is JSON {execution_id, status, severity, error, started_at, completed_at, "
            "duration_ms}. "
            "Reconnect with Last-Event-ID (or start with ?last_event_id=) to resume after that line.",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    }
}


@router.get("/v1/stream", response={429: ErrorOut, **ERRORS}, openapi_extra=SSE_DOC, url_name="execution_stream")
async def execution_stream(
    request: HttpRequest,
    query: Query[StreamQuery],
    last_event_id: str | None = Header(None, alias="Last-Event-ID"),
):
    """Server-Sent Events: the run's output lines as they are produced, then `end` (visible as its detail is)."""
    execution_id = query.execution_id
    after = 0
    last_event_id = last_event_id or query.last_event_id
    if last_event_id:
        # Spaces and tabs around it are forgiven (HTTP's own whitespace), nothing else: str.strip()
        # would also drop control characters such as \x1d that int() then refuses.
        value = last_event_id.strip(" \t")
        if not (value.isascii() and value.isdigit() and len(value) <= 18):
            raise HttpError(400, gettext(LAST_EVENT_ID_INVALID))
        after = int(value)
    if not await _visible(execution_id, request.auth):
        raise Http404(gettext(UNKNOWN_EXECUTION) % {"execution_id": execution_id})
    events = partial(execution_output_events, execution_id=execution_id, after=after)
    stream = LeasedStream(events, user_id=request.auth.pk, stream_id=uuid.uuid4().hex)
    if not await stream.acquire():
        raise HttpError(429, gettext(TOO_MANY_STREAMS) % {"limit": stream.streams.limit()})
    response = StreamingHttpResponse(stream, content_type="text/event-stream")
    # No caching, and no buffering by a proxy in front (nginx honours X-Accel-Buffering).
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


def _visible_sync(execution_id: str, user: Any) -> bool:
    close_old_connections()
    try:
        return selectors.execution_find_visible(execution_id=execution_id, user=user) is not None
    finally:
        close_old_connections()


async def _visible(execution_id: str, user: Any) -> bool:
    # A pool thread, not the request's own (thread-sensitive) one, which would live as long as the stream.
    return await sync_to_async(_visible_sync, thread_sensitive=False)(execution_id, user)
