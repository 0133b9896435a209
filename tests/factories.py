"""Model factories: valid objects by default, any field overridable."""

import itertools
import sys
from typing import Any

from councilors.models import Agent, Councilor
from councilors.services import agent_create, councilor_create

_sequence = itertools.count(1)


def make_agent(**fields: Any) -> Agent:
    number = next(_sequence)
    defaults: dict[str, Any] = {
        "agent_id": f"agent-{number}",
        "name": f"Agent {number}",
        "emoji": "🛡️",
        "runner": Agent.Runner.COMMAND,
        "runner_config": {"argv": [sys.executable, "-c", "print('all good')"], "timeout": 10},
    }
    return agent_create(**{**defaults, **fields})


def make_councilor(*, agent: Agent | None = None, **fields: Any) -> Councilor:
    agent = agent or make_agent()
    defaults: dict[str, Any] = {
        "title": f"{agent.name} audit",
        "schedule_type": Councilor.ScheduleType.INTERVAL,
        "schedule_value": "30m",
        "task_name": "Security audit",
        "task_prompt": "Check the system.",
        "notification_channels": ["panel"],
    }
    return councilor_create(agent=agent, **{**defaults, **fields})
