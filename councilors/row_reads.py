"""The rows every run reads, with their SQL built once per process.

The ORM builds a query afresh on every call; for the few reads each run makes under its locks, that
building cost the worker more CPU than the database's answer (bench/runs.py's profile,
docs/benchmarks.md). Here the columns, the statement and the values' converters are worked out
once per model, and each read is one statement turned into model instances as the ORM would.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import connection, models

from councilors.models import Agent, Councilor, row_lock_clause


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
    """A councilor with its agent, the councilor's row locked until the transaction ends; None when it is gone."""
    councilor_columns = _columns(Councilor, connection.vendor)
    agent_columns = _columns(Agent, connection.vendor)
    quote = connection.ops.quote_name
    councilors, agents = quote(Councilor._meta.db_table), quote(Agent._meta.db_table)
    locking = row_lock_clause()
    if locking and connection.features.has_select_for_update_of:
        locking += f" OF {councilors}"  # the councilor's row only: the agent's is another lock's
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {councilor_columns.select}, {agent_columns.select} FROM {councilors}"
            f" INNER JOIN {agents} ON {councilors}.{quote('agent_id')} = {agents}.{quote('id')}"
            f" WHERE {councilors}.{quote('id')} = %s{locking}",
            [councilor_pk],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(councilor_columns.attnames)
    councilor = councilor_columns.instance(row[:split])
    councilor.agent = agent_columns.instance(row[split:])
    return councilor
