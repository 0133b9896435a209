"""deploy/nginx.conf in front of real gateways: WebSocket clients fail over from a killed gateway to
the other through nginx and resume without a gap; run output streams through it line by line;
static files, /healthz and the browser's host and origin pass as deployed."""

import asyncio
import json
import signal
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import websockets
from asgiref.sync import sync_to_async
from django.core.cache import caches

from infrastructure.tokens import token_mint
from tests.councilors.test_api_e2e import gated_printer, read_events, runner_with_token
from tests.deploy.nginx import nginx
from tests.emitter import emitted_ids
from tests.factories import make_user
from tests.faults.fleet import FLEET_GATEWAY_ENV, Client, close_fleet, open_fleet
from tests.processes import daphne, manage, python_module
from tests.sse import SSEEvent, SSEParser

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CLIENTS = 60
EVENTS_BEFORE_KILL = 10
EMIT_INTERVAL_S = 0.02
WAIT_S = 60  # generous: a loaded 2-core machine; each wait ends as soon as its event arrives


async def staff_token() -> str:
    return await sync_to_async(lambda: token_mint(user=make_user(is_staff=True)))()


async def stats(client: Client) -> dict:
    before = len(client.replies)
    await client.send({"command": "get_stats"})
    reply = await client.wait_for(lambda c: next((r for r in c.replies[before:] if r["type"] == "stats"), None))
    return reply["data"]


async def gateway_pids(clients: list[Client], asker: Client) -> dict[str, int]:
    """Which gateway process holds each client: staff's `get_stats` names each client's instance (host:pid:…)."""
    wanted = {client.client_id for client in clients}
    for _ in range(int(WAIT_S / 0.2)):
        where = {c["client_id"]: int(c["instance"].split(":")[1]) for c in (await stats(asker))["clients"]}
        if wanted <= where.keys():
            return where
        await asyncio.sleep(0.2)  # another gateway's snapshot reaches Redis within its debounce: poll
    raise TimeoutError("get_stats never listed every client")


@pytest.mark.usefixtures("private_channel_prefix")  # the killed gateway leaves its keys behind
async def test_clients_behind_nginx_fail_over_to_the_other_gateway_and_resume_without_gap(tmp_path):
    url_token = await staff_token()
    emitted_log = tmp_path / "emitted.log"
    with (
        daphne(log_path=tmp_path / "daphne-a.log", **FLEET_GATEWAY_ENV) as (gateway_a, port_a),
        daphne(log_path=tmp_path / "daphne-b.log", **FLEET_GATEWAY_ENV) as (gateway_b, port_b),
        nginx(gateway_ports=[port_a, port_b], workdir=tmp_path / "nginx") as (_, port),
    ):
        clients = await open_fleet([f"ws://127.0.0.1:{port}/ws/gamification?token={url_token}"], CLIENTS)
        try:
            where = await gateway_pids(clients, clients[0])
            on_a = [client for client in clients if where[client.client_id] == gateway_a.pid]
            assert set(where.values()) == {gateway_a.pid, gateway_b.pid}, "nginx sent every client to one gateway"
            with python_module("tests.emitter", "--interval", str(EMIT_INTERVAL_S), log_path=emitted_log):
                await asyncio.gather(*(c.wait_for(lambda c: len(c.events) >= EVENTS_BEFORE_KILL) for c in clients))
                gateway_a.send_signal(signal.SIGKILL)
                gateway_a.wait()

                async def fail_over(client: Client, in_the_handshake: bool) -> dict:
                    await client.wait_for(lambda c: c.closes)  # nginx closed it with its dead gateway
                    if in_the_handshake:  # the same URL, nginx's, with ?since=
                        return await client.open(since=client.last_id)
                    await client.open()
                    return await client.resume(since=client.last_id)

                # Half of them resume in the handshake (?since=), half with the `resume` command.
                resumed = await asyncio.gather(*(fail_over(client, n % 2 == 0) for n, client in enumerate(on_a)))
                assert all(r["type"] in ("connected", "resumed") for r in resumed), resumed
                assert all(r["data"]["complete"] is True for r in resumed), resumed
                assert {r["type"] for r in resumed} == {"connected", "resumed"}
                now_on = await gateway_pids(clients, clients[0])
                assert {now_on[client.client_id] for client in clients} == {gateway_b.pid}
                newest = max(client.last_id for client in clients)
                await asyncio.gather(*(c.wait_for(lambda c: c.last_id >= newest + 10) for c in clients))
            emitted = emitted_ids(emitted_log)
            for client in clients:
                await client.wait_for(lambda c: c.last_id >= emitted[-1])
                ids = [event_id for event_id in client.ids() if event_id <= emitted[-1]]
                # Live events that reach B before the client's `resume` come before the replayed ones:
                # order by id, as clients do.
                assert len(ids) == len(set(ids)), "an event was delivered twice across the fail-over"
                assert sorted(ids) == emitted[emitted.index(ids[0]) :], "an event was lost across the fail-over"
            assert [client.connects for client in on_a] == [2] * len(on_a)
            assert sum(reply["data"]["replayed"] for reply in resumed) > 0, "nothing was missed: no fail-over tested"
        finally:
            await close_fleet(clients)


@dataclass(frozen=True)
class Front:
    url: str  # nginx
    static_dir: Path  # the folder its `location /static/` serves


@pytest.fixture(scope="module")
def front(django_db_setup, django_db_blocker, tmp_path_factory):
    """nginx with deploy/nginx.conf in front of a daphne, and a worker cluster, sharing the test database."""
    workdir = tmp_path_factory.mktemp("nginx-front")
    with django_db_blocker.unblock():
        with (
            daphne(log_path=workdir / "daphne.log", API_STREAM_POLL_S="1") as (_, gateway_port),
            # Unsandboxed: gated_printer's command waits for a file of the test's own, which a sandbox hides.
            manage("run_cluster", log_path=workdir / "qcluster.log", COUNCILORS_SANDBOX="none"),
            nginx(gateway_ports=[gateway_port], workdir=workdir / "nginx") as (_, port),
        ):
            yield Front(url=f"http://127.0.0.1:{port}", static_dir=workdir / "nginx" / "static")
        caches["q"].clear()  # the stopped cluster's heartbeat would make later tests see a live worker


async def test_run_output_streams_through_nginx_line_by_line_while_the_run_goes_on(front, tmp_path):
    gate = tmp_path / "go"
    agent_id, auth = await runner_with_token(argv=gated_printer(before=2, after=2, gate=gate))
    events: list[SSEEvent] = []
    async with httpx.AsyncClient(base_url=front.url, headers=auth, timeout=WAIT_S) as http:
        accepted = await http.post(f"/api/agents/{agent_id}/execute", json={"prompt": "go"})
        assert accepted.status_code == 202
        execution_id = accepted.json()["execution_id"]
        async with http.stream("GET", "/api/v1/stream", params={"execution_id": execution_id}) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            async for event in read_events(response, SSEParser()):
                events.append(event)
                if len(events) == 2:
                    # Both lines came through nginx while the command waits for the gate: not at the end.
                    status_meanwhile = (await http.get(f"/api/executions/{execution_id}")).json()["status"]
                    gate.touch()
    assert status_meanwhile == "running"
    assert [(event.event, event.data) for event in events[:-1]] == [("output", f"line {n}") for n in range(1, 5)]
    assert events[-1].event == "end" and json.loads(events[-1].data)["status"] == "completed"


async def test_nginx_serves_static_files_and_passes_healthz_and_the_browser_s_host_and_origin(front):
    (front.static_dir / "probe.txt").write_text("served by nginx")  # a file the gateways do not have
    async with httpx.AsyncClient(base_url=front.url, timeout=WAIT_S) as http:
        static = await http.get("/static/probe.txt")
        health = await http.get("/healthz")
    assert (static.status_code, static.text) == (200, "served by nginx")
    assert health.json()["checks"]["redis"] == {"ok": True}  # the gateway's own answer

    # A browser on nginx's address: the gateway sees the same host the page's origin names.
    ws_url = front.url.replace("http://", "ws://") + f"/ws/gamification?token={await staff_token()}"
    async with websockets.connect(ws_url, origin=front.url, compression=None) as ws:
        assert json.loads(await asyncio.wait_for(ws.recv(), WAIT_S))["type"] == "connected"
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        await websockets.connect(ws_url, origin="http://evil.example", compression=None)
    assert refused.value.response.status_code == 403


LOGIN_TRIES = 10
LOGIN_AT_ONCE = 3  # the rate's one, and the burst's first two (`delay=2`)
LOGIN_DELAYED = 3  # the rest of the burst (5), let through one every 10 s
QUICK_S = 3.0  # far under the 10 s a delayed try waits, far over what a refusal or an answer takes


async def test_nginx_slows_down_then_refuses_password_tries_from_one_address(front):
    async with httpx.AsyncClient(base_url=front.url, timeout=WAIT_S) as http:
        tries = [
            asyncio.ensure_future(http.post("/admin/login/", data={"username": "admin", "password": f"guess-{n}"}))
            for n in range(LOGIN_TRIES)
        ]
        done, pending = await asyncio.wait(tries, timeout=QUICK_S)
        try:
            statuses = sorted(task.result().status_code for task in done)
            # Refused by nginx at once: beyond the rate and its burst.
            assert statuses.count(429) == LOGIN_TRIES - LOGIN_AT_ONCE - LOGIN_DELAYED, statuses
            # Answered by the gateway (a form post without its CSRF token: 403), the others still waiting.
            assert statuses.count(403) == LOGIN_AT_ONCE, statuses
            assert len(pending) == LOGIN_DELAYED
            # The login page itself is not counted, nor is the rest of the site slowed down.
            page = await http.get("/admin/login/")
            assert page.status_code == 200 and 'name="password"' in page.text
        finally:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
