"""A run's private details in events (docs/protocol.md, "Private run details"): two shapes of one event.

The requester of the run and holders of councilors.view_execution get the error text and the
instance id; every other user gets the same event (same id, type and timestamp) with those
emptied or left out and `details_withheld: true` — live, in a resume, and from `GET /api/events`.
"""

import pytest
from asgiref.sync import sync_to_async

from councilors.models import Execution
from councilors.services import execution_finish, execution_start
from gamification.catalogue import DETAILS_WITHHELD, public_data
from gamification.events import aemit, emit
from infrastructure.tokens import token_mint
from tests.factories import make_user
from tests.gamification.ws import TIMEOUT, socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_thread_connections")]

FAILED = {
    "councilor_id": "backup-check",
    "task_name": "Backups",
    "display_name": "Backup check",
    "execution_id": "exec_backup-check_1",
    "status": "error",
    "severity": "error",
    "error": "pg_dump: password authentication failed for user backup",
    "started_at": "2026-12-06T10:00:00.000Z",
    "completed_at": "2026-12-06T10:00:02.000Z",
    "duration_ms": 2000,
}
PUBLIC = {**FAILED, "error": "", DETAILS_WITHHELD: True}


@pytest.fixture
async def people():
    requester = await sync_to_async(make_user)()
    holder = await sync_to_async(make_user)(permissions=("councilors.view_execution",))
    other = await sync_to_async(make_user)()
    return requester, holder, other


def watching(user, since: int | None = None):
    query = f"token={token_mint(user=user)}" + (f"&since={since}" if since is not None else "")
    return socket(f"/ws/gamification?{query}", connected=since is None)


def test_the_public_shape_empties_required_private_fields_and_leaves_out_optional_ones():
    assert public_data("councilor_error", FAILED) == PUBLIC
    ended = {"agent_id": "a", "instance_id": "tenant-42", "error": "boom", "status": "error", "severity": "error"}
    assert public_data("agent_execution_completed", ended) == {
        "agent_id": "a",
        "instance_id": "",
        "status": "error",
        "severity": "error",
        DETAILS_WITHHELD: True,
    }


async def test_the_requester_and_a_view_execution_holder_get_the_details_another_user_the_public_shape(people):
    requester, holder, other = people
    async with watching(requester) as mine, watching(holder) as theirs, watching(other) as stranger:
        sent = await aemit("councilor_error", FAILED, requester.pk)
        full = {"type": "councilor_error", "data": FAILED, "timestamp": sent["timestamp"], "id": sent["id"]}
        assert await mine.receive_json_from(timeout=TIMEOUT) == full
        assert await theirs.receive_json_from(timeout=TIMEOUT) == full
        assert await stranger.receive_json_from(timeout=TIMEOUT) == {**full, "data": PUBLIC}

    # A resume (here in the handshake, from the history or the hub's memory) keeps each one's shape.
    since = sent["id"] - 1
    for user, data in ((requester, FAILED), (holder, FAILED), (other, PUBLIC)):
        async with watching(user, since=since) as ws:
            assert (await ws.receive_json_from(timeout=TIMEOUT))["data"]["replayed"] >= 1
            assert (await ws.receive_json_from(timeout=TIMEOUT)) == {**full, "data": data}


async def test_a_run_the_scheduler_started_shows_its_details_to_view_execution_holders_only(people):
    requester, holder, other = people
    async with watching(requester) as ws_requester, watching(holder) as ws_holder, watching(other) as ws_other:
        await aemit("councilor_error", FAILED)  # no requester
        assert (await ws_holder.receive_json_from(timeout=TIMEOUT))["data"] == FAILED
        for ws in (ws_requester, ws_other):
            assert (await ws.receive_json_from(timeout=TIMEOUT))["data"] == PUBLIC


def test_get_api_events_answers_each_user_in_the_shape_they_may_see(client):
    requester, holder, other = make_user(), make_user(permissions=("councilors.view_execution",)), make_user()
    sent = emit("councilor_error", FAILED, requester.pk)
    for user, data in ((requester, FAILED), (holder, FAILED), (other, PUBLIC)):
        auth = {"HTTP_AUTHORIZATION": f"Bearer {token_mint(user=user)}"}
        response = client.get("/api/events", {"since": sent["id"] - 1}, **auth)
        assert response.status_code == 200
        (event,) = [event for event in response.json()["events"] if event["id"] == sent["id"]]
        assert event == {"type": "councilor_error", "data": data, "timestamp": sent["timestamp"], "id": sent["id"]}


async def test_a_run_asked_for_through_the_api_names_its_requester_in_its_events(people, agent):
    requester, holder, other = people

    @sync_to_async
    def run_that_fails() -> Execution:
        execution = execution_start(agent=agent, prompt="go", instance_id="tenant-42", requested_by=requester)
        return execution_finish(execution=execution, output="", error="exit status 2: secret path /srv/x")

    async with watching(requester) as mine, watching(other) as stranger:
        await run_that_fails()
        for ws, instance_id, error in ((mine, "tenant-42", "exit status 2: secret path /srv/x"), (stranger, "", None)):
            started = await ws.receive_json_from(timeout=TIMEOUT)
            assert (started["type"], started["data"]["instance_id"]) == ("agent_execution_started", instance_id)
            ended = await ws.receive_json_from(timeout=TIMEOUT)
            assert (ended["type"], ended["data"]["instance_id"]) == ("agent_execution_completed", instance_id)
            assert ended["data"].get("error") == error
            assert (ended["data"]["status"], ended["data"]["severity"]) == ("error", "error")  # public to all
