"""The run's hand-built reads and writes do what the ORM's would (every column converted the same way)."""

import itertools

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from councilors import run_rows
from councilors.incidents import OPEN_START_INCIDENTS
from councilors.models import Agent, Councilor, Execution, RunIncident
from councilors.run_rows import councilor_row_lock, execution_insert, execution_update
from councilors.services import FINISH_FIELDS, execution_finish, execution_start
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
def test_the_locked_councilor_says_whether_it_has_an_incident_a_start_resolves():
    councilor = make_councilor()
    with transaction.atomic():
        assert getattr(councilor_row_lock(councilor.pk), OPEN_START_INCIDENTS) is False
    incident = RunIncident.objects.create(
        councilor=councilor, kind=RunIncident.Kind.LATE, key="k", raised_at=timezone.now()
    )
    RunIncident.objects.create(councilor=councilor, kind=RunIncident.Kind.STUCK, key="s", raised_at=timezone.now())
    with transaction.atomic():
        assert getattr(councilor_row_lock(councilor.pk), OPEN_START_INCIDENTS) is True
    RunIncident.objects.filter(pk=incident.pk).update(resolved_at=timezone.now())
    with transaction.atomic():  # a stuck incident is not a start's to resolve
        assert getattr(councilor_row_lock(councilor.pk), OPEN_START_INCIDENTS) is False


@pytest.mark.django_db
def test_a_councilor_gone_reads_as_none():
    with transaction.atomic():
        assert councilor_row_lock(10**9) is None


RUN_IDS = itertools.count(1)


def new_run(agent: Agent, **fields) -> Execution:
    return Execution(
        execution_id=f"{agent.agent_id}-{next(RUN_IDS)}",
        agent=agent,
        kind=Execution.Kind.AGENT,
        prompt="check «everything»",
        started_at=timezone.now(),
        **fields,
    )


@pytest.mark.django_db
def test_a_run_inserted_then_finished_reads_back_exactly_as_written():
    agent = make_agent()
    first, second = new_run(agent), new_run(agent, worker="w-1", attempt=2, max_attempts=3)
    with transaction.atomic():
        execution_insert(first)
        execution_insert(second)

    assert (first.run_number, second.run_number) == (1, 2)
    assert field_values(second) == field_values(Execution.objects.get(pk=second.pk))
    assert second.pk is not None and not second._state.adding

    written_at = second.updated_at
    second.completed_at, second.duration_ms, second.output = timezone.now(), 4, "ok ✓"
    second.status, second.severity = Execution.Status.COMPLETED, Execution.Severity.SUCCESS
    execution_update(second, FINISH_FIELDS)

    assert field_values(second) == field_values(Execution.objects.get(pk=second.pk))
    assert second.updated_at > written_at  # auto_now, as save() would


@pytest.mark.django_db
@pytest.mark.parametrize(
    "returns_columns",
    [
        pytest.param(True, id="numbered-in-the-insert"),
        # Only an SQLite older than 3.35 returns no columns from an insert (PostgreSQL always does).
        pytest.param(
            False,
            id="numbered-by-a-read-first",
            marks=pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite before 3.35 only"),
        ),
    ],
)
def test_each_agent_numbers_its_runs_from_one_whether_or_not_the_insert_returns_columns(returns_columns, monkeypatch):
    """PostgreSQL and SQLite (3.35 on) number a run inside its insert; an older SQLite, which returns
    no columns from one, is read for the agent's newest number first."""
    monkeypatch.setattr(connection.features, "can_return_columns_from_insert", returns_columns)
    run_rows._execution_insert.cache_clear()
    try:
        one, other = make_agent(), make_agent()
        runs = [new_run(one), new_run(other), new_run(one), new_run(one)]
        with transaction.atomic():
            for run in runs:
                execution_insert(run)
    finally:
        run_rows._execution_insert.cache_clear()
    assert [run.run_number for run in runs] == [1, 1, 2, 3]
    assert [field_values(run) for run in runs] == [field_values(Execution.objects.get(pk=run.pk)) for run in runs]


@pytest.mark.django_db
def test_finishing_a_run_whose_row_is_gone_raises():
    run = new_run(make_agent())
    execution_insert(run)
    Execution.objects.filter(pk=run.pk).delete()

    with pytest.raises(DatabaseError, match="not updated"):
        execution_update(run, FINISH_FIELDS)


@pytest.mark.django_db
def test_a_run_with_a_string_over_its_limit_is_refused_before_it_is_written():
    # SQLite enforces no column length: the check before the write is what refuses it there.
    agent = make_agent()

    with pytest.raises(ValidationError) as raised:
        execution_start(agent=agent, prompt="p", instance_id="i" * 121, worker="w" * 256)

    assert set(raised.value.message_dict) == {"instance_id", "worker"}
    assert not Execution.objects.filter(agent=agent).exists()


@pytest.mark.django_db
def test_a_finish_with_a_status_outside_the_choices_is_refused_and_the_run_stays_as_it_was():
    execution = execution_start(agent=make_agent(), prompt="p")

    with pytest.raises(ValidationError) as raised:
        execution_finish(execution=execution, output="", status="exploded")

    assert set(raised.value.message_dict) == {"status"}
    assert Execution.objects.get(pk=execution.pk).status == Execution.Status.RUNNING
