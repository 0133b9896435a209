"""The contract for other apps (SPEC §3, docs/protocol.md "Listening in from another app"): a plain
Channels consumer that joins the `gamification` group with the stock layer API receives every event
a worker emits, as `{"type": "gamification.event", "envelope": ...}`, in full (it is server-side
code of the project), with the run's requester beside an event that has private details.
"""

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.urls import path

from gamification.app_settings import app_settings
from gamification.events import emit
from gamification.history import AUDIENCE_KEY
from tests.gamification.ws import TIMEOUT

pytestmark = pytest.mark.django_db(transaction=True)

ALERT = {"level": "info", "message": "hello", "source": "tests"}
PAUSED = {"councilor_id": "sec", "success": True, "by": "admin"}
STARTED = {
    "agent_id": "audit",
    "agent_name": "Audit",
    "instance_id": "tenant-42",
    "execution_id": "exec_audit_1",
    "started_at": "2026-12-06T10:00:00.000Z",
}


class Listener(AsyncJsonWebsocketConsumer):
    """What another app of the project writes: the stock consumer, the stock group membership."""

    groups = [app_settings.GROUP]

    async def gamification_event(self, message: dict[str, Any]) -> None:
        await self.send_json({"envelope": message["envelope"], "audience": message.get(AUDIENCE_KEY)})


def worker_emits(*events: tuple[str, dict[str, Any], int | None]) -> list[dict[str, Any]]:
    """As a django-q2 worker does: sync code, `emit`, outside any transaction (published at once)."""
    return [emit(event_type, data, requester) for event_type, data, requester in events]


async def test_a_plain_channels_consumer_in_the_group_receives_every_event_a_worker_emits():
    communicator = WebsocketCommunicator(URLRouter([path("listen", Listener.as_asgi())]), "/listen")
    try:
        assert (await communicator.connect(timeout=TIMEOUT))[0]
        sent = await sync_to_async(worker_emits)(
            ("system_alert", ALERT, None), ("councilor_paused", PAUSED, None), ("agent_execution_started", STARTED, 7)
        )
        received = [await communicator.receive_json_from(timeout=TIMEOUT) for _ in sent]
    finally:
        await communicator.disconnect()
    assert [item["envelope"] for item in received] == sent  # every one, in order, ids included, in full
    assert [item["audience"] for item in received] == [None, None, {"requester": 7}]
