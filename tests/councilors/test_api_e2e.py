"""The HTTP API on a real daphne with a real django-q2 cluster: runs on the worker, output over SSE."""

import asyncio
import json
import sys
import time
from dataclasses import dataclass

import httpx
import psutil
import pytest
import redis
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import caches
from django.test import Client
from django_q.models import OrmQ

from councilors.models import Execution
from councilors.sse_limit import UserStreams
from gamification.app_settings import app_settings as gamification_settings
from infrastructure.redis_access import key
from infrastructure.tokens import token_mint
from tests.councilors.cluster import eventually
from tests.factories import make_agent, make_user
from tests.processes import daphne, manage
from tests.sse import SSEEvent, SSEParser

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


RATE_LIMIT = 3
LINE_DELAY_S = 0.6
WAIT_S = 60  # generous: a loaded 2-core machine; each wait ends as soon as its event arrives


def slow_printer(lines: int) -> list[str]:
    """A command that prints `lines` lines over a few seconds."""
    code = (
        "import time\n"
        f"for n in range(1, {lines + 1}):\n"
        "    print(f'line {n}', flush=True)\n"
        f"    time.sleep({LINE_DELAY_S})\n"
    )
    return [sys.executable, "-c", code]


def gated_printer(*, before: int, after: int, gate) -> list[str]:
    """Prints `before` lines, waits until the file `gate` exists (the test's go), then `after` more."""
    code = (
        "import os, time\n"
        f"for n in range(1, {before + 1}):\n"
        "    print(f'line {n}', flush=True)\n"
        f"while not os.path.exists({str(gate)!r}):\n"
        "    time.sleep(0.05)\n"
        f"for n in range({before + 1}, {before + after + 1}):\n"
        "    print(f'line {n}', flush=True)\n"
    )
    return [sys.executable, "-c", code]


@dataclass(frozen=True)
class Gateway:
    url: str
    daphne_pid: int


@pytest.fixture(scope="module")
def gateway(django_db_setup, django_db_blocker, tmp_path_factory):
    """daphne and a qcluster sharing the test database and Redis."""
    logs = tmp_path_factory.mktemp("e2e-logs")
    # More streams per user than the default 20: test_open_streams_hold_no_thread opens 30 of one user.
    # Unsandboxed: gated_printer's command waits for a file of the test's own, which a sandbox hides.
    env = {
        "API_EXECUTE_RATE_LIMIT": str(RATE_LIMIT),
        "API_STREAM_POLL_S": "1",
        "API_STREAM_MAX_PER_USER": "50",
        "COUNCILORS_SANDBOX": "none",
    }
    with django_db_blocker.unblock():
        with (
            daphne(log_path=logs / "daphne.log", **env) as (process, port),
            manage("run_cluster", log_path=logs / "qcluster.log", **env),
        ):
            yield Gateway(url=f"http://127.0.0.1:{port}", daphne_pid=process.pid)
        # The stopped cluster's heartbeat would make later tests see a live worker for a while.
        caches["q"].clear()


@pytest.fixture(autouse=True)
def runs_ended_before_teardown(gateway, transactional_db):
    """Each test's runs end, and their tasks leave the queue, before the database is flushed under them.

    A run still on the worker holds row locks while the flush truncates its tables, which PostgreSQL
    may end as a deadlock (seen in CI: the rate-limit test leaves three runs behind). A run still in
    the queue has no record yet (the worker writes it when it starts), so the queue must be empty
    too: the ORM broker deletes a task once the cluster has saved its result, after the run's last
    write.
    """
    yield
    eventually(
        lambda: not OrmQ.objects.exists() and not Execution.objects.filter(status__in=Execution.IN_FLIGHT).exists(),
        timeout=WAIT_S,
        what="the test's runs ended and their tasks left the queue",
    )


@sync_to_async
def runner_with_token(*, lines: int = 0, argv: list[str] | None = None) -> tuple[str, dict[str, str]]:
    agent = make_agent(runner_config={"argv": argv or slow_printer(lines), "timeout": 60}, api_enabled=True)
    user = make_user(permissions=("councilors.run_agent",))
    return agent.agent_id, {"Authorization": f"Bearer {token_mint(user=user)}"}


async def read_events(response: httpx.Response, parser: SSEParser):
    async for chunk in response.aiter_text():
        for event in parser.feed(chunk):
            yield event


def open_streams() -> int:
    """SSE streams the gateway holds open (their leases, councilors/sse_limit.py), over every user."""
    with redis.Redis.from_url(settings.REDIS_URL) as client:
        return sum(client.zcard(name) for name in client.scan_iter(key(UserStreams.KEY, "*")))


async def until(condition, timeout: float = WAIT_S) -> None:
    """Poll a state of another process that sends no event (Redis' client list)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


async def layer_events(layer, channel: str, execution_id: str, wanted: set[str]) -> dict[str, dict]:
    """The envelopes of `wanted` types for this execution, as the worker emitted them."""
    found: dict[str, dict] = {}
    while wanted - found.keys():
        envelope = (await asyncio.wait_for(layer.receive(channel), timeout=WAIT_S))["envelope"]
        if envelope["type"] in wanted and envelope["data"].get("execution_id") == execution_id:
            found[envelope["type"]] = envelope
    return found


async def test_a_worker_run_streams_lines_in_order_before_it_ends_then_end(gateway):
    agent_id, auth = await runner_with_token(lines=5)
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(gamification_settings.GROUP, channel)

    async with httpx.AsyncClient(base_url=gateway.url, headers=auth, timeout=WAIT_S) as http:
        accepted = await http.post(f"/api/agents/{agent_id}/execute", json={"prompt": "go", "instance_id": "inst-e2e"})
        assert accepted.status_code == 202
        execution_id, status_url = accepted.json()["execution_id"], accepted.json()["status_url"]

        events: list[SSEEvent] = []
        status_at_first_line = None
        async with http.stream("GET", "/api/v1/stream", params={"execution_id": execution_id}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            async for event in read_events(response, SSEParser()):
                events.append(event)
                if len(events) == 1:
                    status_at_first_line = (await http.get(status_url)).json()["status"]
        finished = (await http.get(status_url)).json()

    # The first line arrived while the worker was still running the command.
    assert status_at_first_line == "running"
    assert [(event.event, event.id, event.data) for event in events[:-1]] == [
        ("output", str(n), f"line {n}") for n in range(1, 6)
    ]
    end = events[-1]
    assert end.event == "end"
    assert json.loads(end.data)["status"] == "completed"
    assert json.loads(end.data)["severity"] == "success"
    assert finished["status"] == "completed"
    assert finished["instance_id"] == "inst-e2e"
    assert finished["output"] == "".join(f"line {n}\n" for n in range(1, 6))

    emitted = await layer_events(layer, channel, execution_id, {"agent_execution_started", "agent_execution_completed"})
    assert emitted["agent_execution_started"]["data"]["instance_id"] == "inst-e2e"
    assert emitted["agent_execution_completed"]["data"]["instance_id"] == "inst-e2e"
    assert emitted["agent_execution_completed"]["data"]["status"] == "completed"
    await layer.group_discard(gamification_settings.GROUP, channel)


async def test_a_dropped_client_resumes_with_last_event_id_and_gets_no_line_twice(gateway, tmp_path):
    gate = tmp_path / "go"
    agent_id, auth = await runner_with_token(argv=gated_printer(before=2, after=4, gate=gate))
    async with httpx.AsyncClient(base_url=gateway.url, headers=auth, timeout=WAIT_S) as http:
        execution_id = (await http.post(f"/api/agents/{agent_id}/execute", json={"prompt": "go"})).json()[
            "execution_id"
        ]
        first: list[SSEEvent] = []
        async with http.stream("GET", "/api/v1/stream", params={"execution_id": execution_id}) as response:
            async for event in read_events(response, SSEParser()):
                first.append(event)
                if len(first) == 1:
                    assert open_streams() == 1  # the server follows the run for us
                if len(first) == 2:
                    break  # the client drops the connection mid-run
        status_when_dropped = (await http.get(f"/api/executions/{execution_id}")).json()["status"]
        # The server noticed the drop: the stream's generator ended and gave its slot back.
        await until(lambda: not open_streams())
        gate.touch()  # the rest of the output is printed while the client is away or back

        second: list[SSEEvent] = []
        headers = {"Last-Event-ID": first[-1].id}
        async with http.stream("GET", "/api/v1/stream", params={"execution_id": execution_id}, headers=headers) as r:
            async for event in read_events(r, SSEParser()):
                second.append(event)

    assert status_when_dropped == "running"
    lines = [event.data for event in first + second if event.event == "output"]
    assert lines == [f"line {n}" for n in range(1, 7)]  # in order, none twice, none missing
    assert [event.id for event in second[:-1]] == ["3", "4", "5", "6"]
    assert second[-1].event == "end"


async def test_healthz_is_200_with_a_live_worker_cluster(gateway):
    async with httpx.AsyncClient(base_url=gateway.url, timeout=WAIT_S) as http:
        deadline = time.monotonic() + WAIT_S
        while (response := await http.get("/healthz")).status_code != 200 and time.monotonic() < deadline:
            await asyncio.sleep(0.5)  # the cluster's first heartbeat: nothing to await but the poll
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert body["checks"]["workers"]["clusters"] >= 1


def test_the_execute_rate_limit_is_shared_between_processes(gateway, settings):
    settings.API_EXECUTE_RATE_LIMIT = RATE_LIMIT
    agent = make_agent(api_enabled=True)
    user = make_user(permissions=("councilors.run_agent",))
    auth = {"Authorization": f"Bearer {token_mint(user=user)}"}
    here = Client()

    in_process = [
        here.post(
            f"/api/agents/{agent.agent_id}/execute",
            {"prompt": "go"},
            content_type="application/json",
            HTTP_AUTHORIZATION=auth["Authorization"],
        ).status_code
        for _ in range(RATE_LIMIT - 1)
    ]
    with httpx.Client(base_url=gateway.url, headers=auth, timeout=WAIT_S) as http:
        on_daphne = [http.post(f"/api/agents/{agent.agent_id}/execute", json={"prompt": "go"}) for _ in range(2)]

    assert in_process == [202] * (RATE_LIMIT - 1)
    assert [response.status_code for response in on_daphne] == [202, 429]
    assert on_daphne[1].json()["code"] == "rate_limited"


async def test_open_streams_hold_no_thread(gateway, tmp_path):
    """Each stream waits in the event loop (on the process's one watch connection), not in a thread of daphne's."""
    gate = tmp_path / "go"
    agent_id, auth = await runner_with_token(argv=gated_printer(before=1, after=3, gate=gate))
    clients = 30
    daphne_process = psutil.Process(gateway.daphne_pid)
    async with httpx.AsyncClient(base_url=gateway.url, headers=auth, timeout=WAIT_S) as http:
        execution_id = (await http.post(f"/api/agents/{agent_id}/execute", json={"prompt": "go"})).json()[
            "execution_id"
        ]
        threads_before = daphne_process.num_threads()
        first_lines = asyncio.Queue()

        async def watch() -> list[str]:
            lines = []
            async with http.stream("GET", "/api/v1/stream", params={"execution_id": execution_id}) as response:
                async for event in read_events(response, SSEParser()):
                    if event.event == "output" and not lines:
                        await first_lines.put(event.data)
                    lines.append(event.data if event.event == "output" else "<end>")
            return lines

        watchers = [asyncio.create_task(watch()) for _ in range(clients)]
        for _ in range(clients):
            await asyncio.wait_for(first_lines.get(), timeout=WAIT_S)
        # Every stream is open and waiting for the rest of the run.
        threads_during = daphne_process.num_threads()
        during = await http.get(f"/api/executions/{execution_id}")
        gate.touch()
        results = await asyncio.gather(*watchers)

    assert during.json()["status"] == "running"
    assert threads_during - threads_before < clients // 3, (threads_before, threads_during)
    assert results == [[f"line {n}" for n in range(1, 5)] + ["<end>"]] * clients
