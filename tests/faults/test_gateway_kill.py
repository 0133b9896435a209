"""A gateway process killed (-9) under its clients while events keep coming: they reconnect to the
other gateway, `resume` from their last id, and end up with every event exactly once, in order.
"""

import asyncio
import signal

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User

from gamification.events import aemit
from infrastructure.tokens import token_mint
from tests.faults.fleet import FLEET_GATEWAY_ENV, close_fleet, open_fleet
from tests.processes import daphne

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("private_channel_prefix"),  # killed gateways leave no keys for other tests
]

CLIENTS = 50
# Every client is the one `watcher` user: a fleet, not a person's tabs (no per-user socket limit).
EMIT_EVERY_S = 0.02


async def test_clients_of_a_killed_gateway_reconnect_to_another_and_resume_without_gap(tmp_path):
    token = await sync_to_async(lambda: token_mint(user=User.objects.create_user("watcher")))()
    with (
        daphne(log_path=tmp_path / "daphne-a.log", **FLEET_GATEWAY_ENV) as (gateway_a, port_a),
        daphne(log_path=tmp_path / "daphne-b.log", **FLEET_GATEWAY_ENV) as (_, port_b),
    ):
        urls = [f"ws://127.0.0.1:{port}/ws/gamification?token={token}" for port in (port_a, port_b)]
        clients = await open_fleet(urls, CLIENTS)  # each starts on gateway A, the next URL is B
        emitted: list[int] = []
        stop = asyncio.Event()

        async def emit_forever() -> None:
            number = 0
            while not stop.is_set():
                number += 1
                envelope = await aemit("system_alert", {"level": "info", "message": f"n{number}", "source": "faults"})
                emitted.append(envelope["id"])
                await asyncio.sleep(EMIT_EVERY_S)

        emitting = asyncio.create_task(emit_forever())
        try:
            await asyncio.gather(*(client.wait_for(lambda c: len(c.events) >= 10) for client in clients))
            gateway_a.send_signal(signal.SIGKILL)
            gateway_a.wait()

            async def fail_over(client) -> dict:
                await client.wait_for(lambda c: c.closes)  # the dead gateway's socket is gone
                await client.open()  # the next URL: gateway B
                return await client.resume(since=client.last_id)

            resumed = await asyncio.gather(*(fail_over(client) for client in clients))
            assert all(reply["type"] == "resumed" and reply["data"]["complete"] for reply in resumed), resumed
            await asyncio.sleep(1)  # live events on B for a while
        finally:
            stop.set()
            await emitting
        try:
            for client in clients:
                await client.wait_for(lambda c: c.last_id >= emitted[-1])
                ids = client.ids()
                # Live events that reach B between `connected` and the client's `resume` come before
                # the replayed ones (the protocol resumes after connecting): order by id, as clients do.
                assert len(ids) == len(set(ids)), "an event was delivered twice across the fail-over"
                assert sorted(ids) == emitted[emitted.index(ids[0]) :], "an event was lost across the fail-over"
            assert sum(reply["data"]["replayed"] for reply in resumed) > 0, "nothing was missed: no fail-over tested"
        finally:
            await close_fleet(clients)
