"""PostgreSQL restarted while runs are in flight: they end as `error` with the reason, nothing is left
`running`, the worker takes new runs again, and the gateway keeps serving its clients throughout.

Only in the PostgreSQL pass (CI's second pass): SQLite has no server to restart.
"""

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import User
from django.db import DatabaseError, connection
from websockets.asyncio.client import connect

from councilors.models import Execution
from councilors.services import DATABASE_LOST, councilor_enqueue
from gamification.events import aemit
from infrastructure.tokens import token_mint
from tests.factories import make_actor, make_agent, make_councilor
from tests.processes import daphne, manage

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("private_channel_prefix"),
    pytest.mark.skipif(
        settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
        reason="restarts the PostgreSQL server: runs in the PostgreSQL pass only (SQLite has no server)",
    ),
]

RUN_SECONDS = 6
TIMEOUT = 10


def restart_postgresql() -> None:
    version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[-1]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"], check=True, timeout=60)


def _with_reconnect(query):
    """Run `query`; the test's own connection died with the server, so reconnect once if needed."""
    try:
        return query()
    except DatabaseError:
        connection.close()
        return query()


@sync_to_async
def statuses(execution_ids: list[str]) -> dict[str, tuple[str, str]]:
    rows = Execution.objects.filter(execution_id__in=execution_ids).values_list("execution_id", "status", "error")
    return {eid: (status, error) for eid, status, error in _with_reconnect(lambda: list(rows))}


async def wait_statuses(execution_ids: list[str], done, timeout: float) -> dict[str, tuple[str, str]]:
    deadline = time.monotonic() + timeout
    while True:
        found = await statuses(execution_ids)
        if len(found) == len(execution_ids) and all(done(status) for status, _ in found.values()):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"after {timeout}s: {found}")
        await asyncio.sleep(0.3)


@pytest.fixture
def fresh_connections():
    """The restart kills this test's own connections: drop them before the test database is flushed."""
    yield
    connection.close()  # the main thread's (pytest-django flushes through it)


async def receive_until(ws, predicate) -> dict:
    while not predicate(message := json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))):
        pass
    return message


async def test_postgres_restart_errors_runs_in_flight_and_the_gateway_keeps_serving(tmp_path, fresh_connections):
    argv = [sys.executable, "-c", f"import time; time.sleep({RUN_SECONDS}); print('all good')"]
    make = sync_to_async(lambda: make_councilor(agent=make_agent(runner_config={"argv": argv, "timeout": 60})))
    councilors = [await make(), await make()]
    mint = sync_to_async(lambda name: token_mint(user=User.objects.create_user(name)))
    token, late_token = await mint("watcher"), await mint("late-comer")
    enqueue = sync_to_async(lambda: [councilor_enqueue(councilor=c, actor=make_actor()) for c in councilors])

    with (
        daphne(log_path=tmp_path / "daphne.log") as (_, port),
        manage("run_cluster", log_path=tmp_path / "qcluster.log"),
    ):
        url = f"ws://127.0.0.1:{port}/ws/gamification?token="
        async with connect(url + token, ping_interval=None) as watcher:
            await receive_until(watcher, lambda m: m["type"] == "connected")
            in_flight = await enqueue()
            await wait_statuses(in_flight, lambda status: status == Execution.Status.RUNNING, timeout=30)

            await asyncio.to_thread(restart_postgresql)

            # The gateway kept its socket and still delivers events (the channel layer needs no database).
            sent = await aemit("system_alert", {"level": "info", "message": "after restart", "source": "faults"})
            await receive_until(watcher, lambda m: m["timestamp"] == sent["timestamp"])
            await watcher.send(json.dumps({"command": "ping"}))
            await receive_until(watcher, lambda m: m["type"] == "pong")

            # Runs in flight end as `error`, naming the reason; none is left `running`.
            final = await wait_statuses(in_flight, lambda status: status != Execution.Status.RUNNING, timeout=60)
            for status, error in final.values():
                assert status == Execution.Status.ERROR
                assert error.startswith(DATABASE_LOST.split("%(")[0]), error
            await receive_until(
                watcher, lambda m: m["type"] == "councilor_error" and m["data"]["execution_id"] == in_flight[-1]
            )

            # New clients (their token is checked in the database) and new runs work again.
            async with connect(url + late_token, ping_interval=None) as late:
                await receive_until(late, lambda m: m["type"] == "connected")
            after = await enqueue()
            final = await wait_statuses(after, lambda status: status != Execution.Status.RUNNING, timeout=60)
            assert {status for status, _ in final.values()} == {Execution.Status.COMPLETED}, final
