"""Redis restarted under load: 200 clients connected, councilors running on a real worker.

The gateway keeps its sockets while Redis is away and rejoins the group by itself; the worker's
emitter reconnects by itself; clients see live events again within 10 s and `resume` gives them
what the history holds (saying `complete: false`, because this Redis — like the embedded one —
keeps nothing across a restart); every execution reaches the database with its final status.
"""

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User

from councilors.models import Execution
from gamification.catalogue import ALL_TOPICS
from gamification.events import aemit
from gamification.history import history_since
from infrastructure.tokens import token_mint
from tests.faults.fleet import FLEET_GATEWAY_ENV, close_fleet, open_fleet
from tests.faults.runs import enqueue, setup_councilors, wait_all_finished
from tests.faults.servers import RestartableRedis
from tests.processes import daphne, manage

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("private_channel_prefix"),  # killed gateways leave no keys for other tests
]

CLIENTS = 200
# Every client is the one `watcher` user: a fleet, not a person's tabs (no per-user socket limit).
AWAY = 20  # of them, disconnected during the outage and resuming afterwards
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


async def test_redis_restart_with_200_clients_and_running_councilors(redis_server, tmp_path):
    token = await sync_to_async(lambda: token_mint(user=User.objects.create_user("watcher")))()
    councilors = await setup_councilors(3, run_seconds=RUN_SECONDS)
    with (
        daphne(log_path=tmp_path / "daphne.log", **FLEET_GATEWAY_ENV) as (_, port),
        manage("run_cluster", log_path=tmp_path / "qcluster.log"),
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
            watermarks = {id(client): client.last_id for client in clients}
            assert all(watermarks.values()), "every client saw ids before the outage"
            # Some clients are away during the outage (a laptop lid closed) and come back later.
            away, connected = clients[:AWAY], clients[AWAY:]
            await close_fleet(away)

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
                        for client in connected
                    )
                )
            finally:
                probing.cancel()
            slowest = max(live_again) - back_at
            assert slowest < LIVE_AGAIN_WITHIN_S, f"the last client got live events {slowest:.1f}s after Redis was back"
            print(f"all {len(connected)} connected clients live again {slowest:.2f}s after Redis was back")

            # Every execution reaches its final status in the database, Redis or not.
            after = await enqueue(councilors)
            final = await wait_all_finished(before + during + after, timeout=90)
            assert set(final.values()) == {Execution.Status.COMPLETED}, final

            # The clients that were away come back (to a gateway that has sent events since) and resume
            # from their last id: the restarted Redis lost the old history, so `complete` is false
            # (reload state from the API) and the replay is everything kept since the restart.
            for client in away:
                await client.open()
            for client in away:
                resumed = await client.resume(since=watermarks[id(client)])
                assert resumed["type"] == "resumed", resumed
                assert resumed["data"]["complete"] is False
                assert resumed["data"]["since"] == watermarks[id(client)]

            # Every client, connected throughout or back by `resume`, has every event the restarted Redis
            # kept, in order, none twice (the connected ones also have those from before the outage).
            kept = [event["id"] for event in (await history_since(since=0, topics={ALL_TOPICS})).events]
            assert kept and set(after) <= {
                event["data"].get("execution_id") for event in (await history_since(since=0, topics={"all"})).events
            }
            for client in clients:
                await client.wait_for(lambda c: c.last_id >= kept[-1])
                mine = [event_id for event_id in client.ids() if event_id > watermarks[id(client)]]
                assert mine == sorted(set(mine)), "events out of order or twice"
                assert [event_id for event_id in mine if event_id >= kept[0]] == kept

            # The connected ones were told nothing is lost that the history still has: resuming from
            # before the outage says `complete: false` too (the old ids are gone), and repeats nothing.
            for client in connected[:20]:
                count, newest = len(client.events), client.last_id
                resumed = await client.resume(since=watermarks[id(client)])
                assert resumed["data"]["complete"] is False
                assert len(client.ids()) == len(set(client.ids())), "an event was delivered twice"
                # Live events may still arrive meanwhile (newer ids); the replayed ones are older.
                replayed = [event for event in client.events[count:] if event["id"] <= newest]
                assert resumed["data"]["replayed"] == len(replayed)
        finally:
            await close_fleet(clients)
