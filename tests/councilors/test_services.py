"""The run service: the record is written `running`, then finished; events follow on a real channel layer."""

import asyncio
import logging
import sys

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import DatabaseError, connection
from django.test import override_settings
from django_q.models import OrmQ, Schedule

from councilors.app_settings import app_settings as output_app_settings
from councilors.models import ActionRecord, Councilor, Execution
from councilors.runners.bounded import TRUNCATION_SLACK
from councilors.selectors import REQUESTED_BY_ARG
from councilors.services import (
    ERROR_MAX_CHARS,
    ERROR_TRUNCATED,
    agent_enqueue,
    agent_run,
    councilor_enqueue,
    councilor_pause,
    councilor_resume,
    councilor_run,
    councilor_run_now,
    execution_finish,
    execution_start,
)
from gamification.app_settings import app_settings
from gamification.catalogue import validate_event
from infrastructure.timestamps import iso_utc
from tests.councilors.conftest import SCHEDULE_SYNC_FAILED
from tests.councilors.flood import OUTPUT_TRUNCATED_LINE
from tests.councilors.layer import toggles
from tests.factories import edit_councilor, make_actor, make_agent, make_councilor, make_user
from tests.processes import free_port

PY = sys.executable


def status_seen_by_the_runner(prompt: str, context: dict) -> str:
    """A python-runner callable that reads its own execution row from the database while it runs."""
    try:
        row = Execution.objects.get(execution_id=context["execution_id"])
        return f"row {row.status}/{row.severity or '-'}/{row.completed_at}"
    finally:
        connection.close()  # this runs on the runner's thread, which has its own connection


async def listen():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(app_settings.GROUP, channel)
    return layer, channel


async def receive_types(layer, channel, count: int) -> list[dict]:
    envelopes = [(await asyncio.wait_for(layer.receive(channel), timeout=5))["envelope"] for _ in range(count)]
    for envelope in envelopes:
        validate_event(envelope["type"], envelope["data"])
    return envelopes


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("allow_test_callables")
def test_the_record_is_running_while_the_agent_runs_then_finished():
    agent = make_agent(
        runner="python", runner_config={"callable": "tests.councilors.test_services.status_seen_by_the_runner"}
    )
    councilor = make_councilor(agent=agent)
    execution = councilor_run(councilor=councilor)
    assert execution.output == "row running/-/None"
    stored = Execution.objects.get(pk=execution.pk)
    assert (stored.status, stored.severity, stored.kind, stored.prompt) == (
        "completed",
        "success",
        "councilor",
        councilor.task_prompt,
    )
    assert stored.completed_at >= stored.started_at
    assert stored.duration_ms == int((stored.completed_at - stored.started_at).total_seconds() * 1000)
    assert stored.execution_id.startswith(f"exec_{agent.agent_id}_")


@pytest.mark.django_db
def test_a_failing_runner_is_an_error_execution_with_the_reason_not_a_crash():
    agent = make_agent(runner_config={"argv": [PY, "-c", "print('half done'); raise SystemExit(7)"]})
    execution = councilor_run(councilor=make_councilor(agent=agent))
    stored = Execution.objects.get(pk=execution.pk)
    assert (stored.status, stored.severity, stored.error, stored.output) == (
        "error",
        "error",
        "exited with status 7",
        "half done\n",
    )


@pytest.mark.django_db(transaction=True)
async def test_councilor_run_emits_started_completed_and_metrics_in_order():
    layer, channel = await listen()
    agent = await sync_to_async(make_agent)(runner_config={"argv": [PY, "-c", "print('Warning: 2 deprecated')"]})
    councilor = await sync_to_async(make_councilor)(agent=agent, task_name="Dependency audit", title="Deps")
    execution = await sync_to_async(councilor_run)(councilor=councilor)
    started, completed, metrics = await receive_types(layer, channel, 3)
    assert [started["type"], completed["type"], metrics["type"]] == [
        "councilor_started",
        "councilor_completed",
        "agent_metrics_updated",
    ]
    assert started["data"] == {
        "councilor_id": agent.agent_id,
        "task_name": "Dependency audit",
        "display_name": "Deps",
        "execution_id": execution.execution_id,
        "started_at": iso_utc(execution.started_at),
        "emoji": agent.emoji,
        "run_number": 1,
        "attempt": 1,
        "max_attempts": 1,
    }
    assert completed["data"]["status"] == "completed"
    assert completed["data"]["run_number"] == 1
    assert completed["data"]["severity"] == "warning"
    assert completed["data"]["duration_ms"] == execution.duration_ms
    assert completed["data"]["completed_at"] == iso_utc(execution.completed_at)
    assert metrics["data"] == {
        "agent_id": agent.agent_id,
        "metrics": {
            "total_executions": 1,
            "success_rate": 100.0,
            "last_execution": iso_utc(execution.started_at),
            "last_severity": "warning",
            "avg_duration_ms": float(execution.duration_ms),
        },
    }
    assert started["timestamp"] <= completed["timestamp"] <= metrics["timestamp"]


@pytest.mark.django_db(transaction=True)
async def test_a_failed_councilor_run_emits_councilor_error_with_the_reason():
    layer, channel = await listen()
    agent = await sync_to_async(make_agent)(runner_config={"argv": ["/nonexistent/tool"]})
    councilor = await sync_to_async(make_councilor)(agent=agent)
    await sync_to_async(councilor_run)(councilor=councilor)
    started, failed, metrics = await receive_types(layer, channel, 3)
    assert [started["type"], failed["type"], metrics["type"]] == [
        "councilor_started",
        "councilor_error",
        "agent_metrics_updated",
    ]
    assert (failed["data"]["status"], failed["data"]["severity"]) == ("error", "error")
    assert failed["data"]["error"].startswith("could not start '/nonexistent/tool'")
    assert metrics["data"]["metrics"]["success_rate"] == 0.0


@pytest.mark.django_db(transaction=True)
async def test_an_agent_run_emits_agent_events():
    layer, channel = await listen()
    agent = await sync_to_async(make_agent)()
    execution = await sync_to_async(agent_run)(agent=agent, prompt="hello", instance_id="inst-9")
    started, completed, metrics = await receive_types(layer, channel, 3)
    assert [started["type"], completed["type"], metrics["type"]] == [
        "agent_execution_started",
        "agent_execution_completed",
        "agent_metrics_updated",
    ]
    assert completed["data"]["instance_id"] == "inst-9"
    assert completed["data"]["agent_name"] == agent.label
    assert (completed["data"]["status"], completed["data"]["severity"]) == ("completed", "success")
    assert execution.kind == "agent"


@pytest.mark.django_db(transaction=True)
async def test_pause_and_resume_are_broadcast_with_who_did_it():
    layer, channel = await listen()
    councilor = await sync_to_async(make_councilor)(enabled=True)
    await sync_to_async(councilor_pause)(councilor=councilor, actor=make_actor("alice"))
    await sync_to_async(councilor_resume)(councilor=councilor, actor=make_actor("bob"))
    paused, resumed = await receive_types(layer, channel, 2)
    assert paused == {**paused, "type": "councilor_paused"}
    assert paused["data"] == {"councilor_id": councilor.councilor_id, "success": True, "by": "alice"}
    assert resumed["data"] == {"councilor_id": councilor.councilor_id, "success": True, "by": "bob"}


DEAD_LAYER = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [{"address": f"redis://127.0.0.1:{free_port()}/0"}]},
    }
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "argv, status, severity",
    [([PY, "-c", "print('fine')"], "completed", "success"), ([PY, "-c", "raise SystemExit(1)"], "error", "error")],
)
def test_redis_down_still_saves_the_execution_with_its_status(caplog, argv, status, severity):
    councilor = make_councilor(agent=make_agent(runner_config={"argv": argv}))
    with override_settings(CHANNEL_LAYERS=DEAD_LAYER), caplog.at_level(logging.WARNING, logger="gamification.events"):
        execution = councilor_run(councilor=councilor)
    stored = Execution.objects.get(pk=execution.pk)
    assert (stored.status, stored.severity) == (status, severity)
    assert stored.completed_at is not None
    warnings = [record.getMessage() for record in caplog.records]
    assert any("councilor_started not published" in text for text in warnings)
    assert any("agent_metrics_updated not published" in text for text in warnings)


@pytest.mark.django_db
def test_run_now_without_a_worker_runs_here():
    result = councilor_run_now(councilor=make_councilor(), actor=make_actor())
    assert not result.queued
    assert result.execution.status == "completed"
    assert Execution.objects.get(execution_id=result.execution_id).severity == "success"


@pytest.mark.django_db(transaction=True)
def test_a_councilor_update_whose_schedule_sync_fails_leaves_nothing_behind(listener, break_schedule_sync):
    councilor = make_councilor(title="Watcher", schedule_value="30m")
    schedule = Schedule.objects.get()
    break_schedule_sync()
    with pytest.raises(DatabaseError, match=SCHEDULE_SYNC_FAILED):
        edit_councilor(councilor, title="Renamed", schedule_value="1h", enabled=False, actor=make_actor("alice"))
    stored = Councilor.objects.get(pk=councilor.pk)
    assert (stored.title, stored.schedule_value, stored.enabled, stored.q_schedule_id) == (
        "Watcher",
        "30m",
        True,
        schedule.pk,
    )
    assert Schedule.objects.get().minutes == 30
    assert toggles(listener.so_far()) == []


@pytest.mark.django_db(transaction=True)
def test_turning_enabled_off_in_an_update_is_a_pause_announced_once(listener):
    councilor = make_councilor(enabled=True)
    edit_councilor(councilor, enabled=False, actor=make_actor("alice"))
    edit_councilor(councilor, title="Still paused", enabled=False, actor=make_actor("alice"))
    expected = {"councilor_id": councilor.councilor_id, "success": True, "by": "alice"}
    assert toggles(listener.so_far()) == [("councilor_paused", expected)]


# Every pause, resume and run now is on record, in the transaction of the change


def records() -> list[tuple]:
    return list(ActionRecord.objects.order_by("pk").values_list("actor_name", "action", "target", "execution_id"))


@pytest.mark.django_db
def test_pause_and_resume_are_recorded_with_the_actor():
    councilor = make_councilor(enabled=True)
    councilor_pause(councilor=councilor, actor=make_actor("alice"))
    councilor_resume(councilor=councilor, actor=make_actor("bob"))
    cid = councilor.councilor_id
    assert records() == [("alice", "pause", cid, ""), ("bob", "resume", cid, "")]


@pytest.mark.django_db(transaction=True)
def test_a_pause_that_fails_leaves_no_record(break_schedule_sync):
    councilor = make_councilor(enabled=True)
    break_schedule_sync()
    with pytest.raises(DatabaseError, match=SCHEDULE_SYNC_FAILED):
        councilor_pause(councilor=councilor, actor=make_actor("alice"))
    assert Councilor.objects.get(pk=councilor.pk).enabled is True
    assert records() == []


@pytest.mark.django_db
def test_a_pause_or_resume_without_an_actor_is_refused_and_changes_nothing():
    councilor = make_councilor(enabled=True)
    with pytest.raises(ValueError, match="needs an actor"):
        edit_councilor(councilor, enabled=False)
    assert Councilor.objects.get(pk=councilor.pk).enabled is True
    assert records() == []


@pytest.mark.django_db
def test_an_update_that_does_not_toggle_enabled_records_nothing():
    councilor = make_councilor(enabled=True)
    edit_councilor(councilor, title="Renamed")
    assert records() == []


@pytest.mark.django_db
def test_run_now_here_records_the_run_and_who_asked_for_it():
    user = make_user()
    result = councilor_run_now(councilor=make_councilor(), actor=make_actor(user=user))
    assert records() == [(user.username, "run_now", result.execution.agent.agent_id, result.execution_id)]
    assert Execution.objects.get(execution_id=result.execution_id).requested_by == user


@pytest.mark.django_db
def test_a_run_now_that_is_skipped_is_still_recorded():
    councilor = make_councilor()
    execution_start(agent=councilor.agent, councilor=councilor, prompt="busy")  # still running
    result = councilor_run_now(councilor=councilor, actor=make_actor("ops"))
    assert result.skipped is not None
    assert records() == [("ops", "run_now", councilor.councilor_id, result.execution_id)]


@pytest.mark.django_db
def test_queueing_a_run_records_it_and_passes_the_requester_to_the_worker():
    user = make_user()
    councilor = make_councilor()
    execution_id = councilor_enqueue(councilor=councilor, actor=make_actor(user=user))
    [queued] = OrmQ.objects.all()
    assert queued.kwargs() == {REQUESTED_BY_ARG: user.pk}
    assert records() == [(user.username, "run_now", councilor.councilor_id, execution_id)]


@pytest.mark.django_db(transaction=True)
def test_a_run_the_queue_refuses_leaves_no_record(monkeypatch):
    import django_q.tasks

    def broken_queue(*args, **kwargs):
        raise DatabaseError("queue table unwritable")

    monkeypatch.setattr(django_q.tasks, "async_task", broken_queue)
    with pytest.raises(DatabaseError):
        agent_enqueue(agent=make_agent(), prompt="x", actor=make_actor())
    assert records() == []


@pytest.mark.django_db(transaction=True)
def test_an_http_agents_error_stored_and_broadcast_never_carries_the_urls_credentials_or_token(listener):
    url = f"http://admin:hunter2@127.0.0.1:{free_port()}/run?token=s3cr3t-t0ken"
    agent = make_agent(runner="http", runner_config={"url": url, "timeout": 5})
    execution = councilor_run(councilor=make_councilor(agent=agent))

    failed = listener.wait_for(lambda envelope: envelope["type"] == "councilor_error")

    for error in (failed["data"]["error"], Execution.objects.get(pk=execution.pk).error):
        assert error.startswith(f"request to http://[redacted]@127.0.0.1:{url.rsplit(':', 1)[1].split('/')[0]}/run")
        assert "hunter2" not in error and "s3cr3t-t0ken" not in error and "admin" not in error


@pytest.mark.django_db
def test_the_stored_output_and_error_are_bounded_whoever_finishes_the_run():
    execution = execution_start(agent=make_agent(), prompt="x")
    finished = execution_finish(execution=execution, output="a line\n" * 500_000, error="E" * 100_000)
    stored = Execution.objects.get(pk=finished.pk)
    assert len(stored.output.encode()) <= output_app_settings.OUTPUT_MAX_BYTES + TRUNCATION_SLACK
    assert stored.output.endswith(f"\n{OUTPUT_TRUNCATED_LINE}\n")
    assert stored.error == "E" * ERROR_MAX_CHARS + ERROR_TRUNCATED


@pytest.mark.django_db
def test_a_command_printing_nul_characters_is_still_recorded():
    agent = make_agent(runner_config={"argv": [PY, "-c", "print('a\\x00b')"], "timeout": 10})
    execution = agent_run(agent=agent, prompt="x")
    stored = Execution.objects.get(pk=execution.pk)
    assert (stored.status, stored.output) == ("completed", "a\ufffdb\n")
