"""The demo data (councilors/demo.py): the every-minute heartbeat that makes a fresh `make run` lively.

The other demo councilors run in test_commands.py (seed_demo); `make run` itself in tests/devserver.
"""

import sys
import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule

from councilors.demo import HEARTBEAT_ID, HEARTBEAT_SCRIPT, demo_definitions
from councilors.models import Agent, Councilor, Execution
from councilors.services import execution_run, execution_start
from councilors.severity import analyze_severity
from tests.factories import make_agent

pytestmark = pytest.mark.django_db

STREAMED_OVER_S = 1.0  # the first and last lines arrive at least this far apart: streamed, not at once
FINISHED_WITHIN_S = 5.0


def seed() -> Councilor:
    call_command("seed_demo", stdout=StringIO())
    return Councilor.objects.select_related("agent", "q_schedule").get(agent__agent_id=HEARTBEAT_ID)


def test_seed_demo_adds_a_heartbeat_every_minute_due_as_soon_as_the_workers_tick():
    before = timezone.now()
    heartbeat = seed()
    assert (heartbeat.schedule_type, heartbeat.schedule_value, heartbeat.enabled) == ("interval", "1m", True)
    assert heartbeat.q_schedule.schedule_type == Schedule.MINUTES
    assert heartbeat.q_schedule.minutes == 1
    assert before <= heartbeat.q_schedule.next_run <= timezone.now()
    # The others keep their first run one period (or the cron's next time) away.
    later = Schedule.objects.exclude(pk=heartbeat.q_schedule.pk)
    assert later.count() == 3
    assert all(schedule.next_run > timezone.now() + timedelta(minutes=5) for schedule in later)


def test_seeding_again_does_not_move_the_heartbeat_schedule():
    schedule = seed().q_schedule
    Schedule.objects.filter(pk=schedule.pk).update(next_run=schedule.next_run + timedelta(minutes=1))
    assert seed().q_schedule.next_run == schedule.next_run + timedelta(minutes=1)


def test_the_heartbeat_run_streams_several_lines_and_finishes_in_a_few_seconds():
    heartbeat = seed()
    arrivals: list[tuple[float, str]] = []
    execution = execution_start(agent=heartbeat.agent, councilor=heartbeat, prompt=heartbeat.task_prompt)
    started = time.monotonic()

    finished = execution_run(execution=execution, on_output=lambda line: arrivals.append((time.monotonic(), line)))

    assert time.monotonic() - started < FINISHED_WITHIN_S
    assert finished.status == Execution.Status.COMPLETED
    lines = [line.rstrip("\n") for _, line in arrivals]
    parts = ("web server", "worker queue", "event history", "disk space")
    assert lines[:4] == [f"checked {part}: ok" for part in parts]
    assert lines[4].startswith("queue latency ")
    assert arrivals[-1][0] - arrivals[0][0] >= STREAMED_OVER_S
    assert "".join(line for _, line in arrivals) == finished.output
    expected = "warning" if "warning: queue latency above 200 ms" in lines else "success"
    assert finished.severity == expected


@pytest.mark.parametrize(("latency", "severity"), [(250, "warning"), (120, "success")])
def test_the_heartbeat_warns_when_its_latency_is_high(latency, severity):
    # The same script with its dice loaded: both outcomes, rather than whichever one comes up.
    loaded = f"import random\nrandom.randint = lambda low, high: {latency}\n" + HEARTBEAT_SCRIPT
    agent = make_agent(runner_config={"argv": [sys.executable, "-c", loaded], "timeout": 30})
    execution = execution_run(execution=execution_start(agent=agent, prompt="beat"))
    assert (execution.status, execution.severity) == ("completed", severity)
    assert f"queue latency {latency} ms" in execution.output
    assert analyze_severity(output=execution.output, failed=False) == severity


def test_the_heartbeat_is_the_only_demo_due_at_once():
    assert [demo.agent["agent_id"] for demo in demo_definitions() if demo.due_at_once] == [HEARTBEAT_ID]
    assert Agent.objects.count() == 0  # nothing is created by reading the definitions
