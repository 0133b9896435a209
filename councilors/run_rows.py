"""The rows every run reads and writes, with their SQL built once per process.

The ORM builds each statement afresh on every call; for the few statements a run makes (the
councilor's locked read, the run's insert at its start and update at its end), building them cost
the worker more CPU than the database's answers (bench/runs.py's profile, docs/benchmarks.md).
Here each model's columns, statements and value conversions are worked out once, and each call
does what the ORM would: the same converters on read, the same `pre_save` (auto_now) and
`get_db_prep_save` on write. The ORM's signals are not sent: no receiver listens to these models'
saves (councilors/signals.py has the app's one, on deletes).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import DatabaseError, connection, models, transaction

from councilors.incidents import OPEN_START_INCIDENTS, open_start_incidents_sql
from councilors.models import Agent, Councilor, Execution, agent_row_lock, next_run_number, row_lock_clause


@dataclass(frozen=True)
class _Columns:
    """A model's concrete columns as one SELECT list, and how to turn their values into an instance."""

    model: type[models.Model]
    select: str
    attnames: tuple[str, ...]
    converters: tuple[tuple[int, Any, tuple[Callable[..., Any], ...]], ...]

    def instance(self, values: Sequence[Any]) -> Any:
        converted = list(values)
        for position, column, functions in self.converters:
            for function in functions:
                converted[position] = function(converted[position], column, connection)
        return self.model.from_db(connection.alias, self.attnames, converted)


@cache
def _columns(model: type[models.Model], vendor: str) -> _Columns:
    """Worked out once per model and database kind (the converters differ between SQLite and PostgreSQL)."""
    table = model._meta.db_table
    fields = model._meta.concrete_fields
    quote = connection.ops.quote_name
    converters = []
    for position, field in enumerate(fields):
        column = field.get_col(table)
        functions = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
        if functions:
            converters.append((position, column, tuple(functions)))
    return _Columns(
        model=model,
        select=", ".join(f"{quote(table)}.{quote(field.column)}" for field in fields),
        attnames=tuple(field.attname for field in fields),
        converters=tuple(converters),
    )


def councilor_row_lock(councilor_pk: int) -> Councilor | None:
    """A councilor with its agent, the councilor's row locked until the transaction ends; None when it is gone.

    Annotated, like a queryset's `annotate`, with whether it has open incidents a run's start resolves
    (councilors/incidents.py, OPEN_START_INCIDENTS).
    """
    councilor_columns = _columns(Councilor, connection.vendor)
    agent_columns = _columns(Agent, connection.vendor)
    quote = connection.ops.quote_name
    councilors, agents = quote(Councilor._meta.db_table), quote(Agent._meta.db_table)
    locking = row_lock_clause()
    if locking and connection.features.has_select_for_update_of:
        locking += f" OF {councilors}"  # the councilor's row only: the agent's is another lock's
    incidents_sql, incidents_params = open_start_incidents_sql(f"{councilors}.{quote('id')}")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {councilor_columns.select}, {agent_columns.select}, {incidents_sql} FROM {councilors}"
            f" INNER JOIN {agents} ON {councilors}.{quote('agent_id')} = {agents}.{quote('id')}"
            f" WHERE {councilors}.{quote('id')} = %s{locking}",
            [*incidents_params, councilor_pk],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(councilor_columns.attnames)
    councilor = councilor_columns.instance(row[:split])
    councilor.agent = agent_columns.instance(row[split:-1])
    setattr(councilor, OPEN_START_INCIDENTS, bool(row[-1]))
    return councilor


@dataclass(frozen=True)
class _Insert:
    fields: tuple[models.Field, ...]  # the values the caller passes, in order (not the run number)
    sql: str
    numbers: bool  # the statement numbers the run itself and returns its primary key and number


@cache
def _execution_insert(vendor: str) -> _Insert:
    """The insert of a run. Where the database returns columns from an insert (PostgreSQL, SQLite), the
    run's number is worked out inside it, under the agent's lock the caller holds: one round trip
    fewer than reading the newest number first."""
    meta = Execution._meta
    number = meta.get_field("run_number")
    numbers = connection.features.can_return_columns_from_insert
    passed = (meta.pk, number) if numbers else (meta.pk,)
    fields = tuple(field for field in meta.concrete_fields if field not in passed)
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    columns, values = [quote(field.column) for field in fields], ["%s"] * len(fields)
    if not numbers:
        return _Insert(fields, f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(values)})", False)
    columns.append(quote(number.column))
    agent_column = quote(meta.get_field("agent").column)
    values.append(f"(SELECT COALESCE(MAX({quote(number.column)}), 0) + 1 FROM {table} WHERE {agent_column} = %s)")
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(values)})"
        f" RETURNING {quote(meta.pk.column)}, {quote(number.column)}"
    )
    return _Insert(fields, sql, True)


@cache
def _update(model: type[models.Model], names: tuple[str, ...], vendor: str) -> tuple[tuple[models.Field, ...], str]:
    meta = model._meta
    fields = tuple(meta.get_field(name) for name in names)
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    return fields, f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"


def execution_insert(execution: Execution) -> None:
    """Write a new run's row with the agent's next run number, as `Execution.save()` would."""
    insert = _execution_insert(connection.vendor)
    # No savepoint of its own inside the run's start transaction (see Execution.save).
    with transaction.atomic(savepoint=False):
        if insert.numbers:
            agent_row_lock(execution.agent_id)  # next_run_number's lock: one run numbered at a time per agent
        else:
            execution.run_number = next_run_number(execution.agent_id)
        values = [field.get_db_prep_save(field.pre_save(execution, True), connection) for field in insert.fields]
        with connection.cursor() as cursor:
            if insert.numbers:
                cursor.execute(insert.sql, [*values, execution.agent_id])
                execution.pk, execution.run_number = cursor.fetchone()
            else:
                cursor.execute(insert.sql, values)
                execution.pk = cursor.lastrowid
    execution._state.adding = False
    execution._state.db = connection.alias


def execution_update(execution: Execution, fields: Sequence[str]) -> None:
    """Write these fields of a run's row, as `save(update_fields=fields)` would (auto_now included)."""
    targets, sql = _update(Execution, tuple(fields), connection.vendor)
    values = [field.get_db_prep_save(field.pre_save(execution, False), connection) for field in targets]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, execution.pk])
        if cursor.rowcount != 1:
            raise DatabaseError(f"run {execution.execution_id} not updated: its row is gone")
