"""Demo agents and councilors for a fresh install (`manage.py seed_demo`, run by `make run` on an empty database).

Each command runner uses this Python's base installation (not its virtualenv: the sandbox shows runs
the interpreter's installation read-only, and the demo scripts need no installed package); together
they show every severity: a check that passes, one that reports a warning, one that fails. The
heartbeat runs every minute, from the moment the workers start, so a fresh `make run` shows live
runs (and a run page that streams) within a minute without anyone touching anything.
"""

import os
import sys
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from councilors.models import Agent
from councilors.scheduling import councilor_schedule_due_now
from councilors.services import agent_create, councilor_create

WARNING_SCRIPT = (
    "print('Checked 12 packages.'); print('Warning: django-foo 1.2 is deprecated; upgrade before the next release.')"
)
FAILING_SCRIPT = "import sys; print('Checking backups in /srv/backups...'); sys.exit(2)"
# A few lines over about two seconds (flushed, so they stream), and now and then a warning. Its
# words avoid the error words of councilors/severity.py: only the latency line decides the severity.
HEARTBEAT_SCRIPT = """import random, time
for part in ('web server', 'worker queue', 'event history', 'disk space'):
    time.sleep(0.5)
    print('checked ' + part + ': ok', flush=True)
latency = random.randint(40, 260)
print(f'queue latency {latency} ms', flush=True)
if latency > 200:
    print('warning: queue latency above 200 ms', flush=True)
"""
HEARTBEAT_ID = "heartbeat"


@dataclass(frozen=True)
class DemoCouncilor:
    agent: dict[str, Any]
    councilor: dict[str, Any] | None
    # Due as soon as a worker cluster ticks, rather than one period after it is created.
    due_at_once: bool = False


def base_interpreter() -> str:
    """This interpreter's base installation (outside any virtualenv), where it has one."""
    base = getattr(sys, "_base_executable", "") or sys.executable
    return base if os.path.exists(base) else sys.executable


def demo_definitions() -> list[DemoCouncilor]:
    """The demo agents (all but the last promoted to councilors), built for this interpreter."""
    python = base_interpreter()
    return [
        DemoCouncilor(
            agent={
                "agent_id": HEARTBEAT_ID,
                "name": "Heartbeat",
                "emoji": "💓",
                "description": "Runs every minute for the demo: a few lines over two seconds, sometimes a warning.",
                "runner_config": {"argv": [python, "-c", HEARTBEAT_SCRIPT], "timeout": 30},
                "color": "#db2777",
            },
            councilor={
                "title": "Heartbeat",
                "schedule_type": "interval",
                "schedule_value": "1m",
                "task_name": "Heartbeat",
                "task_prompt": "Check that the web server, the workers and the event history answer.",
                "notification_channels": ["panel"],
            },
            due_at_once=True,
        ),
        DemoCouncilor(
            agent={
                "agent_id": "python-version",
                "name": "Python version check",
                "emoji": "🐍",
                "description": "Prints the Python version the workers run.",
                "runner_config": {"argv": [python, "--version"], "timeout": 30},
                "color": "#2563eb",
            },
            councilor={
                "title": "Python version check",
                "schedule_type": "interval",
                "schedule_value": "30m",
                "task_name": "Python version check",
                "task_prompt": "Report the Python version in use.",
                "notification_channels": ["panel"],
            },
        ),
        DemoCouncilor(
            agent={
                "agent_id": "dependency-audit",
                "name": "Dependency audit",
                "emoji": "📦",
                "description": "Looks for outdated dependencies (always finds one, for the demo).",
                "runner_config": {"argv": [python, "-c", WARNING_SCRIPT], "timeout": 30},
                "color": "#d97706",
            },
            councilor={
                "title": "Dependency audit",
                "schedule_type": "interval",
                "schedule_value": "1h",
                "task_name": "Dependency audit",
                "task_prompt": "List deprecated or vulnerable dependencies.",
                "output_format": "checklist",
                "notification_channels": ["panel", "toast"],
            },
        ),
        DemoCouncilor(
            agent={
                "agent_id": "backup-check",
                "name": "Backup check",
                "emoji": "💾",
                "description": "Checks last night's backups (exits with status 2, for the demo).",
                "runner_config": {"argv": [python, "-c", FAILING_SCRIPT], "timeout": 30},
                "color": "#dc2626",
            },
            councilor={
                "title": "Backup check",
                "schedule_type": "cron",
                "schedule_value": "0 6 * * *",
                "task_name": "Backup check",
                "task_prompt": "Verify that last night's backups exist and are readable.",
                "notification_channels": ["panel", "toast"],
            },
        ),
        DemoCouncilor(
            agent={
                "agent_id": "summarizer",
                "name": "Summarizer",
                "emoji": "📝",
                "description": "A Python callable agent, not yet a councilor: try the admin's promote action.",
                "runner": "python",
                "runner_config": {"callable": "councilors.demo.summarize", "timeout": 10},
                "color": "#059669",
            },
            councilor=None,
        ),
    ]


def summarize(prompt: str, context: dict[str, Any]) -> str:
    """The demo Python agent: a one-line summary of what it was asked."""
    files = context.get("context_files") or []
    return f"Summary of {prompt!r} over {len(files)} context file(s): nothing to report."


@transaction.atomic
def demo_seed() -> list[tuple[str, bool]]:
    """Create the demo agents and councilors that do not exist yet; returns (agent_id, created) pairs."""
    results = []
    for demo in demo_definitions():
        agent = Agent.objects.filter(agent_id=demo.agent["agent_id"]).first()
        created = agent is None
        if created:
            # The tour runs them over HTTP (README), so the demo agents are available through the API.
            agent = agent_create(**demo.agent, api_enabled=True)
        if demo.councilor is not None and not hasattr(agent, "councilor"):
            councilor = councilor_create(agent=agent, **demo.councilor)
            if demo.due_at_once:
                councilor_schedule_due_now(councilor=councilor)
            created = True
        results.append((agent.agent_id, created))
    return results
