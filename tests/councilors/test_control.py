"""WebSocket control commands (councilors/control.py) through the real ASGI application: each one on record."""

from contextlib import asynccontextmanager

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections
from django_q.models import OrmQ

from conductor.asgi import application
from councilors.models import ActionRecord, Councilor
from councilors.selectors import REQUESTED_BY_ARG
from gamification import protocol
from infrastructure.tokens import token_mint
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_ADDRESS = "203.0.113.9"
TIMEOUT = 5


@pytest.fixture(autouse=True)
async def close_thread_connections():
    """Close the connections sync_to_async threads opened, or Postgres cannot drop the test database."""
    yield
    await sync_to_async(connections.close_all)()


@asynccontextmanager
async def connected_from(user, address: str = CLIENT_ADDRESS):
    """A token-authenticated socket whose TCP peer is `address` (what daphne puts in scope["client"])."""
    communicator = WebsocketCommunicator(application, f"/ws/gamification?token={token_mint(user=user)}")
    communicator.scope["client"] = (address, 52000)
    try:
        assert (await communicator.connect(timeout=TIMEOUT))[0]
        assert (await communicator.receive_json_from(timeout=TIMEOUT))["type"] == "connected"
        yield communicator
    finally:
        await communicator.disconnect()


async def send(communicator: WebsocketCommunicator, message: dict, *, reply: str | None = None) -> dict:
    """Send a command and return the next message, or with `reply` the next of that type.

    The events a command publishes (its own `councilor_paused`, say) reach the same socket too, in an
    order of their own against the replies: a test waiting for one reply skips the rest.
    """
    await communicator.send_json_to(message)
    while True:
        received = await communicator.receive_json_from(timeout=TIMEOUT)
        if reply is None or received["type"] == reply:
            return received


@sync_to_async
def records() -> list[tuple]:
    fields = ("actor_id", "actor_name", "action", "target", "execution_id", "source", "address")
    return list(ActionRecord.objects.order_by("pk").values_list(*fields))


async def test_pause_resume_and_run_are_recorded_with_the_user_and_client_address(councilor):
    user = await sync_to_async(make_user)(username="operator", permissions=("councilors.change_councilor",))
    cid = councilor.councilor_id
    async with connected_from(user) as ws:
        paused = await send(ws, {"command": "pause_councilor", "councilor_id": cid}, reply="councilor_paused")
        assert paused["data"]["by"] == "operator"
        resumed = await send(ws, {"command": "resume_councilor", "councilor_id": cid}, reply="councilor_resumed")
        assert resumed["data"]["by"] == "operator"
        queued = await send(ws, {"command": "run_councilor", "councilor_id": cid}, reply="councilor_run_queued")
    execution_id = queued["data"]["execution_id"]
    assert await records() == [
        (user.pk, "operator", "pause", cid, "", "websocket", CLIENT_ADDRESS),
        (user.pk, "operator", "resume", cid, "", "websocket", CLIENT_ADDRESS),
        (user.pk, "operator", "run_now", cid, execution_id, "websocket", CLIENT_ADDRESS),
    ]
    [task] = await sync_to_async(list)(OrmQ.objects.all())
    assert (task.name(), task.kwargs()) == (execution_id, {REQUESTED_BY_ARG: user.pk})


async def test_a_refused_command_is_not_recorded(councilor):
    user = await sync_to_async(make_user)()
    async with connected_from(user) as ws:
        reply = await send(ws, {"command": "pause_councilor", "councilor_id": councilor.councilor_id})
    assert (reply["type"], reply["data"]["code"]) == ("error", protocol.FORBIDDEN)
    assert await records() == []
    assert (await sync_to_async(Councilor.objects.get)(pk=councilor.pk)).enabled
