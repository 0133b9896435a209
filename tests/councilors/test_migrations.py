"""Migrations of councilors: agents' API access (the demo agents keep it), the schedules' next_run index."""

import importlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django_q.models import Schedule

from councilors.demo import demo_definitions

BEFORE = [("councilors", "0005_skippedrun_execution_id")]
AFTER = [("councilors", "0006_audit_and_api_access")]
api_access = importlib.import_module("councilors.migrations.0006_audit_and_api_access")
next_run_index = importlib.import_module("councilors.migrations.0009_schedule_next_run_index")


def test_the_migration_names_every_demo_agent():
    assert set(api_access.DEMO_AGENT_IDS) == {demo.agent["agent_id"] for demo in demo_definitions()}


@pytest.mark.django_db(transaction=True)
def test_existing_agents_become_unavailable_through_the_api_except_the_demo_ones():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        OldAgent = executor.loader.project_state(BEFORE).apps.get_model("councilors", "Agent")
        for agent_id in ("dependency-audit", "summarizer", "payroll-export"):
            OldAgent.objects.create(agent_id=agent_id, name=agent_id, runner="command", runner_config={})
        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        NewAgent = executor.loader.project_state(AFTER).apps.get_model("councilors", "Agent")
        flags = dict(NewAgent.objects.values_list("agent_id", "api_enabled"))
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert flags == {"dependency-audit": True, "summarizer": True, "payroll-export": False}


def _schedule_indexes_on_next_run() -> list[str]:
    column = Schedule._meta.get_field("next_run").column
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Schedule._meta.db_table)
    return [name for name, about in constraints.items() if about["index"] and about["columns"] == [column]]


@pytest.mark.django_db(transaction=True)
def test_the_schedules_next_run_is_indexed_and_the_index_goes_with_its_migration():
    """Each tick asks whether any schedule is due: with the index, not a scan of every councilor's schedule."""
    assert _schedule_indexes_on_next_run() == [next_run_index.INDEX.name]
    executor = MigrationExecutor(connection)
    executor.migrate([("councilors", "0008_labels")])
    try:
        assert _schedule_indexes_on_next_run() == []
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert _schedule_indexes_on_next_run() == [next_run_index.INDEX.name]
