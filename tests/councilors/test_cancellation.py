"""Cancelling a run: the permission rule, and the answer for a queued, a running and a finished run."""

import sys
import threading
import time
from io import StringIO

import pytest
from asgiref.sync import sync_to_async
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from councilors.cancel_watch import CANCEL_POLL_S, cancel_watched
from councilors.cancellation import (
    MSG_FORBIDDEN,
    CancelRefused,
    Outcome,
    execution_cancel,
    execution_ended_before_start,
)
from councilors.models import ActionRecord, Execution, SkippedRun
from councilors.runners.base import RunControl
from councilors.services import agent_enqueue, councilor_enqueue, execution_finish, execution_run, execution_start
from councilors.tasks import run_agent_task, run_councilor_task
from infrastructure.tokens import token_mint
from tests.councilors.layer import of_type
from tests.councilors.run_processes import new_marker, processes_with, wait_until_gone, wait_until_running
from tests.factories import make_actor, make_agent, make_councilor, make_user
from tests.gamification.ws import authed, expect_error, send, socket
from tests.gamification.ws import make_user as make_ws_user

PY = sys.executable
SLEEPER = "import sys, time; print('started', flush=True); time.sleep(60)"


def queued_run(agent, *, requested_by=None) -> Execution:
    """A run waiting for a place (as the concurrency cap records it)."""
    execution = Execution(
        execution_id=f"exec_{agent.agent_id}_q",
        agent=agent,
        kind=Execution.Kind.AGENT,
        prompt="later",
        status=Execution.Status.QUEUED,
        started_at=timezone.now(),
        requested_by=requested_by,
    )
    execution.save()
    return execution


def user_actor(user):
    return make_actor(user=user, source=ActionRecord.Source.API)


@pytest.mark.django_db(transaction=True)
def test_a_queued_run_ends_cancelled_at_once_with_its_event(listener):
    owner = make_user()
    execution = queued_run(make_agent(name="Nightly"), requested_by=owner)
    result = execution_cancel(execution_id=execution.execution_id, actor=user_actor(owner))
    assert (result.outcome, result.status) == (Outcome.CANCELLED, "cancelled")
    assert result.message == f"Nightly #{execution.run_number} was cancelled before it started."
    execution.refresh_from_db()
    assert (execution.status, execution.severity, execution.error) == ("cancelled", "error", "cancelled")
    assert execution.cancelled_by == owner and execution.cancelled_by_name == owner.get_username()
    event = listener.wait_for(of_type("agent_execution_completed", execution_id=execution.execution_id))
    assert event["data"]["status"] == "cancelled"
    assert event["data"]["cancelled_by"] == owner.get_username()
    record = ActionRecord.objects.get(action=ActionRecord.Action.CANCEL)
    assert (record.execution_id, record.actor) == (execution.execution_id, owner)


@pytest.mark.django_db(transaction=True)
def test_a_task_still_in_the_queue_is_cancelled_and_its_worker_runs_nothing():
    owner = make_user()
    agent = make_agent(api_enabled=True, runner_config={"argv": [PY, "-c", "print('must not run')"]})
    execution_id = agent_enqueue(agent=agent, prompt="count", actor=user_actor(owner))
    result = execution_cancel(execution_id=execution_id, actor=user_actor(owner))
    assert (result.outcome, result.status) == (Outcome.CANCELLED, "cancelled")
    cancelled = Execution.objects.get(execution_id=execution_id)
    assert (cancelled.prompt, cancelled.requested_by, cancelled.kind) == ("count", owner, "agent")
    assert execution_ended_before_start(execution_id=execution_id) == cancelled
    # The worker that picks the task up finds the run ended: nothing runs, nothing is written twice.
    assert run_agent_task(agent.agent_id, "count", "", execution_id, owner.pk) == execution_id
    cancelled.refresh_from_db()
    assert (cancelled.status, cancelled.output) == ("cancelled", "")
    assert Execution.objects.filter(agent=agent).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_councilor_run_still_in_the_queue_is_cancelled_and_skipped_by_its_worker():
    councilor = make_councilor(agent=make_agent(runner_config={"argv": [PY, "-c", "print('must not run')"]}))
    execution_id = councilor_enqueue(councilor=councilor, actor=make_actor("ops"))
    assert execution_cancel(execution_id=execution_id, actor=make_actor("ops")).outcome == Outcome.CANCELLED
    cancelled = Execution.objects.get(execution_id=execution_id)
    assert (cancelled.kind, cancelled.councilor, cancelled.prompt) == ("councilor", councilor, councilor.task_prompt)
    assert run_councilor_task(councilor.councilor_id, execution_id) == execution_id
    assert not SkippedRun.objects.exists()
    assert list(Execution.objects.values_list("status", flat=True)) == ["cancelled"]


@pytest.mark.django_db
def test_a_finished_run_is_a_clear_no_op():
    councilor = make_councilor()
    execution = execution_start(agent=councilor.agent, councilor=councilor, prompt="p")
    execution_finish(execution=execution, output="done")
    result = execution_cancel(execution_id=execution.execution_id, actor=make_actor())
    assert (result.outcome, result.status) == (Outcome.ALREADY_ENDED, "completed")
    assert result.message == f"{councilor.title} #1 already ended (Completed): there is nothing to cancel."
    execution.refresh_from_db()
    assert execution.cancel_requested_at is None
    assert not ActionRecord.objects.filter(action=ActionRecord.Action.CANCEL).exists()


@pytest.mark.django_db
def test_only_the_requester_or_the_cancel_permission_may_cancel():
    owner, viewer = make_user(), make_user(permissions=("councilors.view_execution",))
    stranger, canceller = make_user(), make_user(permissions=("councilors.cancel_execution",))
    execution = queued_run(make_agent(), requested_by=owner)
    with pytest.raises(CancelRefused) as refused:
        execution_cancel(execution_id=execution.execution_id, actor=user_actor(viewer))
    assert refused.value.code == CancelRefused.FORBIDDEN
    for nobody in (stranger,):
        with pytest.raises(CancelRefused) as refused:
            execution_cancel(execution_id=execution.execution_id, actor=user_actor(nobody))
        assert refused.value.code == CancelRefused.NOT_FOUND
    with pytest.raises(CancelRefused) as refused:
        execution_cancel(execution_id="exec_nope_1_abc", actor=user_actor(canceller))
    assert refused.value.code == CancelRefused.NOT_FOUND
    execution.refresh_from_db()
    assert execution.status == "queued"
    assert execution_cancel(execution_id=execution.execution_id, actor=user_actor(canceller)).status == "cancelled"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("no_sandbox")
def test_a_running_command_is_stopped_by_the_watcher_with_its_output_so_far(listener):
    marker = new_marker()
    agent = make_agent(runner_config={"argv": [PY, "-c", SLEEPER, marker], "timeout": 60})
    execution = execution_start(agent=agent, prompt="p")
    finished: list[Execution] = []
    worker = threading.Thread(target=lambda: finished.append(execution_run(execution=execution)))
    worker.start()
    wait_until_running(marker, count=1)
    listener.wait_for(of_type("agent_execution_started", execution_id=execution.execution_id))
    result = execution_cancel(execution_id=execution.execution_id, actor=make_actor("ops"))
    asked = time.monotonic()
    assert (result.outcome, result.status) == (Outcome.CANCELLING, "running")
    worker.join(timeout=10)
    assert time.monotonic() - asked < 2
    assert wait_until_gone(marker, within=2 - (time.monotonic() - asked)) == []
    [run] = finished
    assert (run.status, run.error, run.output) == ("cancelled", "cancelled", "started\n")
    run.refresh_from_db()
    assert (run.status, run.cancelled_by_name, run.output) == ("cancelled", "ops", "started\n")
    assert run.cancel_requested_at is not None
    event = listener.wait_for(of_type("agent_execution_completed", execution_id=execution.execution_id))
    assert (event["data"]["status"], event["data"]["cancelled_by"]) == ("cancelled", "ops")
    # A second cancel, now it has ended, is the no-op answer.
    again = execution_cancel(execution_id=execution.execution_id, actor=make_actor("ops"))
    assert (again.outcome, again.status) == (Outcome.ALREADY_ENDED, "cancelled")
    assert processes_with(marker) == []
    assert CANCEL_POLL_S <= 0.5


@pytest.mark.django_db(transaction=True)
def test_the_process_s_watcher_stops_only_the_run_asked_and_none_it_no_longer_watches():
    """One watcher thread per process looks at every run in flight there; a run whose body is over is left alone."""
    agent, ops = make_agent(), make_actor("ops")
    asked, other, ended = (execution_start(agent=agent, prompt="p") for _ in range(3))
    controls = {run.pk: RunControl() for run in (asked, other, ended)}
    with cancel_watched(execution=ended, control=controls[ended.pk]):
        pass
    execution_cancel(execution_id=ended.execution_id, actor=ops)
    with (
        cancel_watched(execution=asked, control=controls[asked.pk]),
        cancel_watched(execution=other, control=controls[other.pk]),
    ):
        execution_cancel(execution_id=asked.execution_id, actor=ops)
        assert controls[asked.pk].stop.wait(timeout=2)
        assert asked.cancelled_by_name == "ops" and asked.cancel_requested_at is not None
        # The other run's row has been read meanwhile too (one read for both): no cancel there.
        assert not controls[other.pk].stop.wait(timeout=3 * CANCEL_POLL_S)
    assert not controls[ended.pk].stop.is_set() and ended.cancel_requested_at is None


def api_cancel(client, execution_id: str, user):
    bearer = {"Authorization": f"Bearer {token_mint(user=user)}"}
    return client.post(f"/api/executions/{execution_id}/cancel", headers=bearer)


@pytest.mark.django_db(transaction=True)
def test_the_api_answers_200_409_404_and_403(client):
    owner, viewer, stranger = make_user(), make_user(permissions=("councilors.view_execution",)), make_user()
    execution = queued_run(make_agent(name="Nightly"), requested_by=owner)
    assert api_cancel(client, execution.execution_id, stranger).json() == {
        "detail": f"No run {execution.execution_id} that you may see.",
        "code": "not_found",
    }
    forbidden = api_cancel(client, execution.execution_id, viewer)
    assert forbidden.status_code == 403
    assert forbidden.json() == {"detail": str(MSG_FORBIDDEN), "code": "forbidden"}
    response = api_cancel(client, execution.execution_id, owner)
    assert response.status_code == 200
    title = f"Nightly #{execution.run_number}"
    assert response.json() == {
        "execution_id": execution.execution_id,
        "outcome": "cancelled",
        "status": "cancelled",
        "run": title,
        "detail": f"{title} was cancelled before it started.",
    }
    again = api_cancel(client, execution.execution_id, owner)
    assert again.status_code == 409
    assert again.json() == {
        "execution_id": execution.execution_id,
        "outcome": "already_ended",
        "code": "already_ended",
        "status": "cancelled",
        "run": title,
        "detail": f"{title} already ended (Cancelled): there is nothing to cancel.",
    }
    assert client.post(f"/api/executions/{execution.execution_id}/cancel").status_code == 401
    assert ActionRecord.objects.filter(action="cancel", source="api").count() == 1


@pytest.mark.django_db(transaction=True)
async def test_the_websocket_command_replies_to_the_caller():
    owner, stranger = await make_ws_user(), await make_ws_user()
    agent = await sync_to_async(make_agent)(name="Nightly")
    execution = await sync_to_async(queued_run)(agent, requested_by=owner)
    async with await authed(stranger) as ws:
        await expect_error(ws, {"command": "cancel_run", "execution_id": execution.execution_id}, "not_found")
        await expect_error(ws, {"command": "cancel_run", "execution_id": 7}, "invalid_field")
    async with await authed(owner) as ws:
        # The run's end is broadcast too: only the reply, here, not the event.
        await send(ws, {"command": "subscribe", "topics": ["system_alert"]})
        reply = await send(ws, {"command": "cancel_run", "execution_id": execution.execution_id, "request_id": 1})
    assert reply["type"] == "run_cancel"
    assert reply["data"] == {
        "execution_id": execution.execution_id,
        "outcome": "cancelled",
        "status": "cancelled",
        "run": f"Nightly #{execution.run_number}",
        "message": f"Nightly #{execution.run_number} was cancelled before it started.",
        "request_id": 1,
    }
    with override_settings(GAMIFICATION_WS_ALLOW_ANONYMOUS=True):
        async with socket() as anonymous:
            await expect_error(
                anonymous, {"command": "cancel_run", "execution_id": execution.execution_id}, "forbidden"
            )


@pytest.mark.django_db(transaction=True)
def test_the_command_cancels_and_fails_clearly_on_a_bad_id():
    execution = queued_run(make_agent(name="Nightly"))
    out = StringIO()
    call_command("cancel_run", execution.execution_id, "--by", "ops", stdout=out)
    assert out.getvalue() == f"Nightly #{execution.run_number} was cancelled before it started.\n"
    execution.refresh_from_db()
    assert (execution.status, execution.cancelled_by_name) == ("cancelled", "ops")
    out = StringIO()
    call_command("cancel_run", execution.execution_id, stdout=out)  # a no-op, said so, not an error
    assert "already ended (Cancelled): there is nothing to cancel." in out.getvalue()
    with pytest.raises(CommandError, match="No run exec_nope_1_abc that you may see."):
        call_command("cancel_run", "exec_nope_1_abc")
    with pytest.raises(CommandError, match="--timeout must be a positive number of seconds."):
        call_command("cancel_run", execution.execution_id, "--timeout", "0")
    with pytest.raises(CommandError, match="--by must name who acts"):
        call_command("cancel_run", execution.execution_id, "--by", " ")


@pytest.mark.django_db
def test_the_admin_action_cancels_what_the_user_may_and_says_so(admin_client):
    execution = queued_run(make_agent(name="Nightly"))
    response = admin_client.post(
        reverse("admin:councilors_execution_changelist"),
        {"action": "cancel_runs", "_selected_action": [execution.pk]},
        follow=True,
    )
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert message == f"Nightly #{execution.run_number} was cancelled before it started."
    execution.refresh_from_db()
    assert (execution.status, execution.cancelled_by_name) == ("cancelled", "admin")
    assert f"Nightly #{execution.run_number}" in admin_client.get(reverse("admin:councilors_execution_changelist")).text


def quick(prompt: str, context: dict) -> str:
    """A callable that ignores cancels and ends after a moment: a cancel races its end."""
    time.sleep(float(prompt))
    return "done"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("allow_test_callables")
def test_a_cancel_racing_the_run_s_end_leaves_exactly_one_final_state(listener):
    agent = make_agent(runner="python", runner_config={"callable": "tests.councilors.test_cancellation.quick"})
    outcomes = set()
    for step in range(8):
        # Runs of 0 to 0.6 s: some end before the watcher's next look (0.25 s), some after it.
        execution = execution_start(agent=agent, prompt=str(0.2 * (step % 4)))
        worker = threading.Thread(target=execution_run, kwargs={"execution": execution})
        worker.start()
        time.sleep(0.01 * step)  # the cancel lands before, at and after the run's end
        result = execution_cancel(execution_id=execution.execution_id, actor=make_actor("ops"))
        worker.join(timeout=10)
        execution.refresh_from_db()
        assert execution.status in ("completed", "cancelled")
        if result.outcome == Outcome.ALREADY_ENDED:
            assert result.status == execution.status == "completed"
        if execution.status == "cancelled":
            assert (execution.cancelled_by_name, execution.output) == ("ops", "done")
        ended = [e for e in listener.so_far() if e["data"].get("execution_id") == execution.execution_id]
        finished = [e for e in ended if e["type"] == "agent_execution_completed"]
        assert [e["data"]["status"] for e in finished] == [execution.status]
        outcomes.add((result.outcome, execution.status))
    assert {status for _, status in outcomes} == {"completed", "cancelled"}, outcomes
