"""Redis restarted under load: 200 clients connected, councilors running on a real worker.

The gateway keeps its sockets while Redis is away and rejoins the group by itself; the worker's
emitter reconnects by itself; clients see live events again within 10 s and `resume` gives them
what the history holds (saying `complete: false`, because this Redis — like the embedded one —
keeps nothing across a restart); every execution reaches the database with its final status.
"""

import asyncio
import sys
import time

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User

from conductor.tokens import token_mint
from councilors.models import Execution
from councilors.services import councilor_enqueue
from gamification.events import aemit
from tests.factories import make_agent, make_councilor
from tests.faults.fleet import close_fleet, open_fleet
from tests.faults.servers import RestartableRedis
from tests.processes import daphne, manage

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CLIENTS = 200
LIVE_AGAIN_WITHIN_S = 10.0
RUN_SECONDS = 1.0


@pytest.fixture
def redis_server(tmp_path, settings):
    server = RestartableRedis(tmp_path)
    server.start()
    # This process (probe events, the history reads) and the processes it starts all use it.
    layer = settings.CHANNEL_LAYERS["default"]
    settings.REDIS_URL = server.url
    settings.CHANNEL_LAYERS = {"default": {**layer, "CONFIG": {**layer["CONFIG"], "hosts": [{"address": server.url}]}}}
    yield server
    server.stop()


@sync_to_async
def setup_councilors(count: int) -> list:
    argv = [sys.executable, "-c", f"import time; time.sleep({RUN_SECONDS}); print('all good')"]
    return [
        make_councilor(agent=make_agent(runner_config={"argv": argv, "timeout": 30}), schedule_value="1d")
        for _ in range(count)
    ]


@sync_to_async
def enqueue(councilors: list) -> list[str]:
    return [councilor_enqueue(councilor=councilor) for councilor in councilors]


@sync_to_async
def statuses(execution_ids: list[str]) -> dict[str, str]:
    return dict(Execution.objects.filter(execution_id__in=execution_ids).values_list("execution_id", "status"))


async def wait_all_finished(execution_ids: list[str], timeout: float) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while True:
        found = await statuses(execution_ids)
        if len(found) == len(execution_ids) and Execution.Status.RUNNING not in found.values():
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"executions not all finished after {timeout}s: {found}")
        await asyncio.sleep(0.5)


async def test_redis_restart_with_200_clients_and_running_councilors(redis_server, tmp_path):
    token = await sync_to_async(lambda: token_mint(user=User.objects.create_user("watcher")))()
    councilors = await setup_councilors(3)
    with (
        daphne(log_path=tmp_path / "daphne.log") as (_, port),
        manage("qcluster", log_path=tmp_path / "qcluster.log"),
    ):
        clients = await open_fleet([f"ws://127.0.0.1:{port}/ws/gamification?token={token}"], CLIENTS)
        try:
            # Before: a round of runs, seen live by everyone.
            before = await enqueue(councilors)
            await wait_all_finished(before, timeout=60)
            finished_before = {f"{eid}" for eid in before}
            for client in clients:
                await client.wait_for(
                    lambda c: (
                        finished_before
                        <= {e["data"].get("execution_id") for e in c.events if e["type"] == "councilor_completed"}
                    ),
                    timeout=20,
                )
            watermarks = [client.last_id for client in clients]
            assert all(watermarks), "every client saw ids before the outage"

            # Redis goes away while runs are in flight and more are queued.
            during = await enqueue(councilors)
            await asyncio.sleep(RUN_SECONDS / 2)
            redis_server.stop()
            await asyncio.sleep(3)
            during += await enqueue(councilors)  # the ORM broker needs no Redis
            await asyncio.sleep(2)
            redis_server.start()
            back_at = time.monotonic()

            # Live again within 10 s: probe events until every client has one from after the restart.
            async def probe() -> None:
                number = 0
                while True:
                    number += 1
                    await aemit("system_alert", {"level": "info", "message": f"probe {number}", "source": "faults"})
                    await asyncio.sleep(0.25)

            probing = asyncio.create_task(probe())
            try:
                live_again = await asyncio.gather(
                    *(
                        client.wait_for(
                            lambda c: next((t for t in c.arrivals if t > back_at), None), timeout=LIVE_AGAIN_WITHIN_S
                        )
                        for client in clients
                    )
                )
            finally:
                probing.cancel()
            slowest = max(live_again) - back_at
            assert slowest < LIVE_AGAIN_WITHIN_S, f"the last client got live events {slowest:.1f}s after Redis was back"
            print(f"all {CLIENTS} clients live again {slowest:.2f}s after Redis was back")

            # Every execution reaches its final status in the database, Redis or not.
            after = await enqueue(councilors)
            final = await wait_all_finished(before + during + after, timeout=90)
            assert set(final.values()) == {Execution.Status.COMPLETED}, final

            # Missed events: `resume` from the last id seen before the outage. The restarted Redis lost
            # the history, so it says `complete: false` (reload state from the API), and replays all it
            # has: everything since the restart, in order, including what the client missed meanwhile.
            for client, watermark in zip(clients, watermarks, strict=True):
                live_after = [e["id"] for e in client.events if e["id"] > watermark]
                first_replayed = len(client.events)
                resumed = await client.resume(since=watermark)
                assert resumed["type"] == "resumed", resumed
                replayed = client.ids()[first_replayed:]
                assert resumed["data"]["since"] == watermark
                assert resumed["data"]["replayed"] == len(replayed)
                assert resumed["data"]["complete"] is False
                assert replayed == sorted(replayed) and len(set(replayed)) == len(replayed)
                assert set(live_after) <= set(replayed), "an event seen live is missing from the replay"
            assert {e["data"].get("execution_id") for e in clients[0].events} >= set(after)
        finally:
            await close_fleet(clients)
