"""GET /api/v1/stream in-process (the real worker and daphne: test_api_e2e.py)."""

import json
import sys

import pytest
import redis
import redis.asyncio
from asgiref.sync import sync_to_async
from django_q.models import OrmQ

from conductor.api import UNAUTHORIZED
from councilors import output_stream, output_watch
from councilors import sse as councilors_sse
from councilors.api import LAST_EVENT_ID_INVALID, UNKNOWN_EXECUTION
from councilors.app_settings import app_settings
from councilors.runners.bounded import TRUNCATION_SLACK
from councilors.selectors import VIEW_EXECUTION_PERMISSION
from councilors.services import agent_enqueue, agent_run, execution_start
from councilors.sse import NEVER_STARTED
from infrastructure.timestamps import iso_utc
from infrastructure.tokens import token_mint
from tests.councilors.flood import FIFTY_MB_OF_LINES, OUTPUT_TRUNCATED_LINE
from tests.factories import make_actor, make_agent, make_user
from tests.processes import free_port
from tests.sse import SSEParser

pytestmark = pytest.mark.django_db(transaction=True)


THREE_LINES = "print('one'); print('two'); print('three')"


@sync_to_async
def run_agent(code: str = THREE_LINES):
    agent = make_agent(runner_config={"argv": [sys.executable, "-c", code], "timeout": 20})
    return agent_run(agent=agent, prompt="x")


@sync_to_async
def auth_headers() -> dict[str, str]:
    """A user who may read every run's output."""
    return {"Authorization": f"Bearer {token_mint(user=make_user(permissions=(VIEW_EXECUTION_PERMISSION,)))}"}


async def stream(async_client, execution_id: str, **headers) -> list:
    response = await async_client.get("/api/v1/stream", {"execution_id": execution_id}, headers=headers)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    assert response["Cache-Control"] == "no-cache"
    parser = SSEParser()
    return [event async for chunk in response.streaming_content for event in parser.feed(chunk)]


async def test_a_finished_run_streams_its_lines_then_end(async_client):
    execution = await run_agent()

    events = await stream(async_client, execution.execution_id, **await auth_headers())

    assert [(event.id, event.event, event.data) for event in events[:3]] == [
        ("1", "output", "one"),
        ("2", "output", "two"),
        ("3", "output", "three"),
    ]
    end = events[3]
    assert (end.id, end.event) == ("4", "end")
    assert json.loads(end.data) == {
        "execution_id": execution.execution_id,
        "status": "completed",
        "severity": "success",
        "error": "",
        "started_at": iso_utc(execution.started_at),
        "completed_at": iso_utc(execution.completed_at),
        "duration_ms": execution.duration_ms,
    }
    assert len(events) == 4


async def test_last_event_id_resumes_after_that_line(async_client):
    execution = await run_agent()

    events = await stream(async_client, execution.execution_id, **await auth_headers(), **{"Last-Event-ID": "2"})

    assert [(event.id, event.data) for event in events[:1]] == [("3", "three")]
    assert [event.event for event in events] == ["output", "end"]


async def stream_query(async_client, execution_id: str, last_event_id: str, **headers) -> list:
    response = await async_client.get(
        "/api/v1/stream", {"execution_id": execution_id, "last_event_id": last_event_id}, headers=headers
    )
    assert response.status_code == 200
    parser = SSEParser()
    return [event async for chunk in response.streaming_content for event in parser.feed(chunk)]


async def test_a_page_that_has_lines_starts_after_them_with_the_query_parameter(async_client):
    # EventSource cannot send Last-Event-ID on its first request: the run page passes ?last_event_id=.
    execution = await run_agent()

    events = await stream_query(async_client, execution.execution_id, "1", **await auth_headers())

    assert [(event.id, event.event, event.data) for event in events[:2]] == [
        ("2", "output", "two"),
        ("3", "output", "three"),
    ]
    assert [event.event for event in events] == ["output", "output", "end"]


async def test_the_header_of_a_reconnect_wins_over_the_query_parameter(async_client):
    execution = await run_agent()

    events = await stream_query(
        async_client, execution.execution_id, "1", **await auth_headers(), **{"Last-Event-ID": "2"}
    )

    assert [(event.id, event.data) for event in events[:1]] == [("3", "three")]
    assert [event.event for event in events] == ["output", "end"]


@pytest.mark.parametrize("last_event_id", ["5\x1d", "\x1c7", "3\x00"])
async def test_a_last_event_id_with_control_characters_is_400_not_a_500(async_client, last_event_id):
    # str.strip() drops \x1c-\x1f, which int() refuses (found by tests/hostile/test_http_fuzz.py).
    execution = await run_agent()
    response = await async_client.get(
        "/api/v1/stream",
        {"execution_id": execution.execution_id, "last_event_id": last_event_id},
        headers=await auth_headers(),
    )
    assert response.status_code == 400
    assert response.json()["detail"] == LAST_EVENT_ID_INVALID


async def test_a_bad_last_event_id_query_parameter_is_400(async_client):
    execution = await run_agent()
    response = await async_client.get(
        "/api/v1/stream", {"execution_id": execution.execution_id, "last_event_id": "-1"}, headers=await auth_headers()
    )
    assert response.status_code == 400
    assert response.json()["detail"] == LAST_EVENT_ID_INVALID


async def test_a_failed_run_ends_with_status_and_severity_error(async_client):
    execution = await run_agent("print('trying'); raise SystemExit(3)")

    events = await stream(async_client, execution.execution_id, **await auth_headers())

    assert [event.data for event in events if event.event == "output"] == ["trying"]
    end = json.loads(events[-1].data)
    assert (end["status"], end["severity"], end["error"]) == ("error", "error", "exited with status 3")


async def test_lines_redis_never_got_are_sent_from_the_database_before_end(async_client, monkeypatch, settings):
    settings.API_STREAM_POLL_S = 0.2
    dead = redis.Redis(port=free_port(), socket_connect_timeout=0.5, socket_timeout=0.5)
    monkeypatch.setattr(output_stream, "redis_sync", lambda: dead)
    execution = await run_agent()

    events = await stream(async_client, execution.execution_id, **await auth_headers())

    assert [(event.id, event.data) for event in events] == [
        ("1", "one"),
        ("2", "two"),
        ("3", "three"),
        ("4", events[3].data),
    ]
    assert json.loads(events[3].data)["status"] == "completed"


async def test_with_redis_down_for_the_reader_the_stream_follows_the_database(async_client, monkeypatch, settings):
    settings.API_STREAM_POLL_S = 0.2
    execution = await run_agent()
    port = free_port()

    def nothing_listening(**kwargs) -> redis.asyncio.Redis:
        return redis.asyncio.Redis(port=port, socket_connect_timeout=0.5)

    monkeypatch.setattr(councilors_sse, "redis_async", nothing_listening)
    monkeypatch.setattr(output_watch, "redis_async_dedicated", nothing_listening)

    events = await stream(async_client, execution.execution_id, **await auth_headers())

    assert [event.data for event in events[:3]] == ["one", "two", "three"]
    assert events[3].event == "end"


async def test_an_unknown_execution_is_404(async_client):
    response = await async_client.get("/api/v1/stream", {"execution_id": "exec_ghost_1"}, headers=await auth_headers())
    assert response.status_code == 404
    assert response.json()["detail"] == UNKNOWN_EXECUTION % {"execution_id": "exec_ghost_1"}


@sync_to_async
def bearer_of(user) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_mint(user=user)}"}


@sync_to_async
def run_asked_for_by(user, code: str = THREE_LINES):
    agent = make_agent(runner_config={"argv": [sys.executable, "-c", code], "timeout": 20})
    return agent_run(agent=agent, prompt="x", requested_by=user)


async def test_another_users_stream_is_404_exactly_like_an_unknown_one(async_client):
    owner, other = await sync_to_async(make_user)(), await sync_to_async(make_user)()
    execution = await run_asked_for_by(owner)
    queued_id = await sync_to_async(agent_enqueue)(
        agent=execution.agent, prompt="x", actor=make_actor(user=owner, source="api")
    )

    for execution_id in (execution.execution_id, queued_id):
        hidden = await async_client.get(
            "/api/v1/stream", {"execution_id": execution_id}, headers=await bearer_of(other)
        )
        ghost = await async_client.get(
            "/api/v1/stream", {"execution_id": "exec_ghost_1"}, headers=await bearer_of(other)
        )
        assert (hidden.status_code, ghost.status_code) == (404, 404)
        assert hidden.json()["detail"] == UNKNOWN_EXECUTION % {"execution_id": execution_id}
        assert hidden.content.replace(execution_id.encode(), b"exec_ghost_1") == ghost.content


async def test_the_requester_and_a_viewer_stream_the_output(async_client):
    owner = await sync_to_async(make_user)()
    viewer = await sync_to_async(make_user)(permissions=(VIEW_EXECUTION_PERMISSION,))
    execution = await run_asked_for_by(owner)
    for reader in (owner, viewer):
        events = await stream(async_client, execution.execution_id, **await bearer_of(reader))
        assert [event.data for event in events[:3]] == ["one", "two", "three"]
        assert events[-1].event == "end"


async def test_a_running_run_keeps_the_stream_open_with_keepalives(async_client, settings):
    settings.API_STREAM_POLL_S = 0.2
    agent = await sync_to_async(make_agent)()
    execution = await sync_to_async(execution_start)(agent=agent, prompt="x")
    response = await async_client.get(
        "/api/v1/stream", {"execution_id": execution.execution_id}, headers=await auth_headers()
    )
    parser = SSEParser()
    chunks = aiter(response.streaming_content)
    while len(parser.comments) < 2:  # two idle polls, and no `end` while the record says running
        assert parser.feed(await anext(chunks)) == []
    await chunks.aclose()
    assert parser.comments == ["keepalive", "keepalive"]


async def test_a_queued_run_whose_task_leaves_the_queue_without_a_record_ends_as_an_error(async_client, settings):
    settings.API_STREAM_POLL_S = 0.2
    agent = await sync_to_async(make_agent)()
    execution_id = await sync_to_async(agent_enqueue)(agent=agent, prompt="x", actor=make_actor())
    response = await async_client.get("/api/v1/stream", {"execution_id": execution_id}, headers=await auth_headers())
    assert response.status_code == 200
    parser = SSEParser()
    chunks = aiter(response.streaming_content)
    while not parser.comments:  # still queued: kept open
        assert parser.feed(await anext(chunks)) == []
    await OrmQ.objects.all().adelete()  # e.g. a worker that failed before the run started

    events = [event async for chunk in chunks for event in parser.feed(chunk)]

    assert [event.event for event in events] == ["end"]
    end = json.loads(events[0].data)
    assert end["error"] == NEVER_STARTED
    assert (end["started_at"], end["completed_at"]) == (None, None)


async def test_missing_execution_id_is_400_naming_it(async_client):
    response = await async_client.get("/api/v1/stream", headers=await auth_headers())
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "execution_id"


@pytest.mark.parametrize("last_event_id", ["abc", "-1", "1.5", "9" * 40])
async def test_a_bad_last_event_id_is_400(async_client, last_event_id):
    execution = await run_agent()
    response = await async_client.get(
        "/api/v1/stream",
        {"execution_id": execution.execution_id},
        headers={**await auth_headers(), "Last-Event-ID": last_event_id},
    )
    assert response.status_code == 400
    assert response.json()["detail"] == LAST_EVENT_ID_INVALID


async def test_the_stream_needs_authentication(async_client):
    execution = await run_agent()
    response = await async_client.get("/api/v1/stream", {"execution_id": execution.execution_id})
    assert response.status_code == 401
    assert response.json()["detail"] == UNAUTHORIZED


@pytest.mark.parametrize("redis_for_the_worker", ["up", "down"])
async def test_a_fifty_megabyte_run_streams_bounded_and_ends_with_the_truncation_marker(
    async_client, monkeypatch, settings, redis_for_the_worker
):
    settings.API_STREAM_POLL_S = 0.2
    if redis_for_the_worker == "down":  # then every line comes from the stored output
        dead = redis.Redis(port=free_port(), socket_connect_timeout=0.5, socket_timeout=0.5)
        monkeypatch.setattr(output_stream, "redis_sync", lambda: dead)
    execution = await run_agent(FIFTY_MB_OF_LINES)
    reader = await sync_to_async(make_user)(permissions=("councilors.view_execution",))
    headers = {"Authorization": f"Bearer {await sync_to_async(token_mint)(user=reader)}"}

    events = await stream(async_client, execution.execution_id, **headers)

    output = [event for event in events if event.event == "output"]
    assert output[-1].data == OUTPUT_TRUNCATED_LINE
    assert sum(event.data == OUTPUT_TRUNCATED_LINE for event in output) == 1
    assert sum(len(event.data) + 1 for event in output) <= app_settings.OUTPUT_MAX_BYTES + TRUNCATION_SLACK
    assert events[-1].event == "end" and json.loads(events[-1].data)["status"] == "completed"
