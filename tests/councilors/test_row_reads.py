"""The run's hand-built reads give the instances the ORM would (every column converted the same way)."""

import pytest
from django.db import transaction

from councilors.models import Agent, Councilor
from councilors.row_reads import councilor_row_lock
from tests.factories import edit_councilor, make_actor, make_agent, make_councilor


def field_values(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


@pytest.mark.django_db
def test_the_locked_councilor_and_its_agent_equal_the_orms_reading():
    agent = make_agent(
        runner_config={"argv": ["true"], "timeout": 10, "env": {"A": "é"}},
        max_concurrent=3,
        api_enabled=True,
    )
    councilor = make_councilor(agent=agent, context_files=["README.md"], output_format="checklist", max_retries=2)
    edit_councilor(councilor, enabled=False, actor=make_actor())

    with transaction.atomic():
        locked = councilor_row_lock(councilor.pk)

    assert locked is not None
    assert field_values(locked) == field_values(Councilor.objects.get(pk=councilor.pk))
    assert field_values(locked.agent) == field_values(Agent.objects.get(pk=agent.pk))
    # Converted, not raw: booleans stay booleans on SQLite, JSON is parsed, times are aware.
    assert locked.enabled is False and locked.agent.api_enabled is True
    assert locked.agent.runner_config["env"] == {"A": "é"}
    assert locked.created_at.tzinfo is not None
    assert not locked._state.adding and locked._state.db == "default"


@pytest.mark.django_db
def test_a_councilor_gone_reads_as_none():
    with transaction.atomic():
        assert councilor_row_lock(10**9) is None
