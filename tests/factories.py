"""Model factories: valid objects by default, any field overridable."""

import itertools
import sys
from typing import Any

from councilors.audit import Actor
from councilors.models import ActionRecord, Agent, Councilor
from councilors.services import agent_create, councilor_create, councilor_save

_sequence = itertools.count(1)
# Passes AUTH_PASSWORD_VALIDATORS (tests/infrastructure/test_login_throttle.py checks it).
PASSWORD = "a-test-password-of-conductor"


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


def edit_councilor(councilor: Councilor, *, actor: Actor | None = None, **fields: Any) -> Councilor:
    """What the admin's change form does: new values on the instance, then `councilor_save`."""
    for name, value in fields.items():
        setattr(councilor, name, value)
    return councilor_save(councilor=councilor, actor=actor)


def make_user(*, username: str | None = None, permissions: tuple[str, ...] = (), **fields: Any):
    """An active user with the given `app_label.codename` permissions (password: PASSWORD)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user(
        username=username or f"user-{next(_sequence)}", password=PASSWORD, **fields
    )
    for permission in permissions:
        app_label, codename = permission.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


def make_actor(name: str = "tests", *, user: Any = None, source: str = ActionRecord.Source.COMMAND) -> Actor:
    """Who a test's pause, resume or run is recorded as done by (an operator at a shell by default)."""
    return Actor(user=user, name=user.get_username() if user is not None else name, source=source, address="test")
