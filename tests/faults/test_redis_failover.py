"""Redis failover under load: a primary, a replica and three sentinels; the primary is killed while
200 clients are connected and councilors run on a real worker.

Replication is asynchronous, so the test first makes the replica fall behind (frozen, its link to
the primary cut) while the primary publishes a few events that clients see live: the failover
really loses them, as a primary that dies before its last writes reach the replica does. Then:
events flow again within the failover time plus a few seconds; ids keep increasing past the lost
ones; a `resume` is `complete: false` only from before a lost event (and is complete from after
the last lost one); every run is recorded with its final status; the gateway and the worker
follow the new primary without a restart.
"""

import asyncio
import time

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User

from councilors.models import Execution
from gamification.catalogue import ALL_TOPICS
from gamification.events import aemit
from gamification.history import history_since
from infrastructure.tokens import token_mint
from tests.faults.fleet import FLEET_GATEWAY_ENV, Client, close_fleet, open_fleet
from tests.faults.runs import enqueue, setup_councilors, wait_all_finished, wait_all_running
from tests.faults.servers import SentinelGroup, point_settings_at
from tests.processes import daphne, manage

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("private_channel_prefix"),  # the killed primary's keys are another test's no more
]

CLIENTS = 200
AWAY = 20  # of them, disconnected before the loss and resuming after the failover
COUNCILORS = 3  # one worker process each, so all run at once
LOST = 5  # events the primary publishes after its replica fell behind
RUN_SECONDS = 1.0
FEW_S = 5.0  # live again within the failover time plus this
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 3000
FAILOVER_WAIT_S = 30.0


@pytest.fixture
def sentinel_group(tmp_path, settings):
    group = SentinelGroup(
        tmp_path, replicas=1, sentinels=3, down_after_ms=DOWN_AFTER_MS, failover_timeout_ms=FAILOVER_TIMEOUT_MS
    )
    group.start()
    point_settings_at(group, settings)
    yield group
    group.stop()


def saw_completions(execution_ids: list[str]):
    wanted = set(execution_ids)
    return lambda c: wanted <= {e["data"].get("execution_id") for e in c.events if e["type"] == "councilor_completed"}


async def alert(message: str) -> dict:
    return await aemit("system_alert", {"level": "info", "message": message, "source": "faults"})


async def probe_forever() -> None:
    """An emitter that keeps trying through the failover (an emit that finds no primary only logs)."""
    number = 0
    while True:
        number += 1
        await alert(f"probe {number}")
        await asyncio.sleep(0.25)


async def lose_the_last_writes(group: SentinelGroup, clients: list[Client]) -> list[int]:
    """Freeze the replica and cut its link, publish LOST events (seen live by `clients`), kill the primary.

    The replica is frozen only for as long as this takes (well under DOWN_AFTER_MS), so the
    sentinels still find it healthy and promote it. Returns the ids the failover loses.
    """
    (replica,) = group.replica_ports
    group.pause(replica)
    try:
        with group.client(group.primary_port) as primary:
            primary.client_kill_filter(_type="replica")
        lost = [(await alert(f"lost {n}"))["id"] for n in range(LOST)]
        await asyncio.gather(*(client.wait_for(lambda c: c.last_id >= lost[-1]) for client in clients))
        group.kill(group.primary_port)
    finally:
        group.resume(replica)
    return lost


async def test_a_primary_killed_under_200_clients_and_running_councilors_fails_over(sentinel_group, tmp_path):
    token = await sync_to_async(lambda: token_mint(user=User.objects.create_user("watcher")))()
    councilors = await setup_councilors(COUNCILORS, run_seconds=RUN_SECONDS)
    with (
        daphne(log_path=tmp_path / "daphne.log", **FLEET_GATEWAY_ENV) as (gateway, port),
        manage("run_cluster", log_path=tmp_path / "qcluster.log", Q_WORKERS=str(COUNCILORS)) as cluster,
    ):
        clients = await open_fleet([f"ws://127.0.0.1:{port}/ws/gamification?token={token}"], CLIENTS)
        try:
            before = await enqueue(councilors)
            await wait_all_finished(before, timeout=60)
            await asyncio.gather(*(client.wait_for(saw_completions(before), timeout=20) for client in clients))
            watermarks = {id(client): client.last_id for client in clients}
            away, connected = clients[:AWAY], clients[AWAY:]
            await close_fleet(away)

            # Runs in flight when the primary dies; the replica misses the last writes.
            during = await enqueue(councilors)
            await wait_all_running(during, timeout=30)
            lost = await lose_the_last_writes(sentinel_group, connected)
            killed_at = time.monotonic()
            probing = asyncio.create_task(probe_forever())
            try:
                new_primary = await asyncio.to_thread(
                    sentinel_group.wait_for_new_master, old=sentinel_group.primary_port, timeout=FAILOVER_WAIT_S
                )
                failover_s = time.monotonic() - killed_at
                assert new_primary == sentinel_group.replica_ports[0]

                # Live again: every connected client gets an event newer than the lost ones.
                def fresh(c: Client) -> float | None:
                    return next((t for e, t in zip(c.events, c.arrivals, strict=True) if e["id"] > lost[-1]), None)

                arrivals = await asyncio.gather(
                    *(client.wait_for(fresh, timeout=failover_s + FEW_S + 5) for client in connected)
                )
            finally:
                probing.cancel()
            slowest = max(arrivals) - killed_at
            print(f"failover {failover_s:.2f}s; all {len(connected)} clients live again {slowest:.2f}s after the kill")
            assert slowest < failover_s + FEW_S, (
                f"live again {slowest:.1f}s after the kill (failover {failover_s:.1f}s)"
            )

            # The gateway and the worker follow the new primary by themselves (same processes).
            after = await enqueue(councilors)
            final = await wait_all_finished(before + during + after, timeout=90)
            assert set(final.values()) == {Execution.Status.COMPLETED}, final
            await asyncio.gather(*(client.wait_for(saw_completions(after), timeout=30) for client in connected))
            assert gateway.poll() is None and cluster.poll() is None
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
                assert (await http.get("/healthz")).json()["checks"]["redis"] == {"ok": True}

            # What the new primary kept: everything up to the replica's last write, nothing it missed.
            kept = [event["id"] for event in (await history_since(since=0, topics={ALL_TOPICS})).events]
            assert not set(lost) & set(kept) and kept[-1] > lost[-1]

            # Connected clients: every event once, ids only increasing across the failover, the lost
            # ones included (they saw them live before the primary died).
            for client in connected:
                await client.wait_for(lambda c: c.last_id >= kept[-1])
                mine = [event_id for event_id in client.ids() if event_id > watermarks[id(client)]]
                assert mine == sorted(set(mine)), "an event out of order or twice"
                assert set(lost) <= set(mine)
                assert [event_id for event_id in mine if event_id > lost[-1]] == [i for i in kept if i > lost[-1]]

            # Resuming from after the last lost event is complete; from before a lost one it is not.
            for client in connected[:20]:
                assert (await client.resume(since=lost[-1]))["data"]["complete"] is True
                assert (await client.resume(since=lost[0]))["data"]["complete"] is False
                assert (await client.resume(since=watermarks[id(client)]))["data"]["complete"] is False
                assert len(client.ids()) == len(set(client.ids())), "a replay repeated an event"

            # The clients that were away missed the lost events: `complete: false` (they reload), and
            # the replay is what the new primary kept after their last id.
            for client in away:
                await client.open()
                resumed = await client.resume(since=watermarks[id(client)])
                assert resumed["type"] == "resumed", resumed
                assert resumed["data"]["complete"] is False
                await client.wait_for(lambda c: c.last_id >= kept[-1])
                mine = [event_id for event_id in client.ids() if event_id > watermarks[id(client)]]
                assert mine == sorted(set(mine)) and not set(lost) & set(mine)
                assert [i for i in mine if i <= kept[-1]] == [i for i in kept if i > watermarks[id(client)]]
        finally:
            await close_fleet(clients)
