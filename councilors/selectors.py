"""Reads: agent metrics derived from executions (never a running counter), councilor lists, who sees a run."""

import time
from dataclasses import dataclass
from typing import Any, TypedDict

from django.contrib.auth import get_user_model
from django.core.validators import slug_re
from django.db import connection
from django.db.models import Avg, Count, F, Max, OuterRef, Q, QuerySet, Subquery, Sum, Window
from django.db.models.functions import RowNumber

from councilors.models import Agent, Councilor, Execution, RunIncident, SkippedRun
from gamification.catalogue import AgentMetrics
from infrastructure.timestamps import iso_utc_or_none

# Who may read any execution's prompt and output; its requester may read their own (docs/http-api.md).
VIEW_EXECUTION_PERMISSION = "councilors.view_execution"
# How many of an agent's latest finished runs its trend chart shows (docs/dashboard.md, "Trends").
TREND_RUNS = 30
# How many attempts per run the failure streak reads at most (a councilor's max_retries + 1 rarely passes it).
MAX_ATTEMPTS_SCANNED = 10
FINISHED = ~Q(status__in=Execution.IN_FLIGHT)
# The same conditions seen from an agent, for its aggregates over `executions` (positive lookups:
# a negated condition across a multi-valued relation would turn into a subquery).
AGENT_FINISHED = Q(
    executions__status__in=[status for status in Execution.Status.values if status not in Execution.IN_FLIGHT]
)
AGENT_SUCCEEDED = AGENT_FINISHED & Q(executions__severity__in=[Execution.Severity.SUCCESS, Execution.Severity.WARNING])


FINISHED_STATUSES = tuple(status for status in Execution.Status.values if status not in Execution.IN_FLIGHT)
SUCCEEDED_SEVERITIES = (Execution.Severity.SUCCESS.value, Execution.Severity.WARNING.value)
# `agents_metrics_list` for one agent as every run's finish needs it: the same figures, read from
# the executions alone (their (agent, -started_at) index) in one statement written once, with the
# agent's cap beside them. Building the ORM's grouped join over the agent's columns cost a worker
# more CPU than the run it announced (bench/runs.py's profile, docs/benchmarks.md);
# tests/councilors/test_selectors.py holds the two equal.
_IN = "({})".format(", ".join(["%s"] * len(FINISHED_STATUSES)))
_OK = "({})".format(", ".join(["%s"] * len(SUCCEEDED_SEVERITIES)))
_ONE_AGENT_METRICS_SQL = (
    "SELECT COUNT(*),"
    f" SUM(CASE WHEN status IN {_IN} THEN 1 ELSE 0 END),"
    f" SUM(CASE WHEN status IN {_IN} AND severity IN {_OK} THEN 1 ELSE 0 END),"
    " MAX(started_at),"
    f" AVG(CASE WHEN status IN {_IN} THEN duration_ms END),"
    f" (SELECT severity FROM {{table}} WHERE agent_id = %s AND status IN {_IN}"
    "   ORDER BY started_at DESC, id DESC LIMIT 1),"
    " (SELECT max_concurrent FROM {agents} WHERE id = %s)"
    " FROM {table} WHERE agent_id = %s"
).format(table=Execution._meta.db_table, agents=Agent._meta.db_table)


def agent_metrics_get(*, agent: Agent) -> AgentMetrics:
    """One agent's metrics as `agents_metrics_list` has them (success rate: finished runs not `error`, in %)."""
    return agent_metrics_and_cap(agent=agent)[0]


def agent_metrics_and_cap(*, agent: Agent) -> tuple[AgentMetrics, int | None]:
    """`agent_metrics_get` and the agent's `max_concurrent` as the database has it now (None: no cap, or
    the agent is gone), in one statement: what every run's finish reads."""
    params = [*FINISHED_STATUSES, *FINISHED_STATUSES, *SUCCEEDED_SEVERITIES, *FINISHED_STATUSES]
    with connection.cursor() as cursor:
        cursor.execute(_ONE_AGENT_METRICS_SQL, [*params, agent.pk, *FINISHED_STATUSES, agent.pk, agent.pk])
        total, finished, succeeded, last_started, avg_duration, last_severity, cap = cursor.fetchone()
    metrics = AgentMetrics(
        total_executions=total,
        success_rate=round(100.0 * succeeded / finished, 1) if finished else 0.0,
        last_execution=iso_utc_or_none(_started_at_from_db(last_started)),
        last_severity=last_severity,
        avg_duration_ms=round(float(avg_duration), 1) if avg_duration is not None else None,
    )
    return metrics, cap


def _started_at_from_db(value: Any) -> Any:
    """A raw `started_at` as the ORM returns it (SQLite hands back text; the backend's converters parse it)."""
    column = Execution._meta.get_field("started_at").cached_col
    for converter in connection.ops.get_db_converters(column):
        value = converter(value, column, connection)
    return value


def agents_metrics_list(*, agents: QuerySet[Agent] | None = None) -> dict[str, AgentMetrics]:
    """Metrics of every agent (or those given), keyed by agent_id, in one query."""
    last_finished = Execution.objects.filter(FINISHED, agent=OuterRef("pk")).order_by("-started_at", "-pk")
    agents = (agents if agents is not None else Agent.objects.all()).annotate(
        total=Count("executions"),
        finished=Count("executions", filter=AGENT_FINISHED),
        succeeded=Count("executions", filter=AGENT_SUCCEEDED),
        last_started=Max("executions__started_at"),
        avg_duration=Avg("executions__duration_ms", filter=AGENT_FINISHED),
        last_severity=Subquery(last_finished.values("severity")[:1]),
    )
    return {
        agent.agent_id: AgentMetrics(
            total_executions=agent.total,
            success_rate=round(100.0 * agent.succeeded / agent.finished, 1) if agent.finished else 0.0,
            last_execution=iso_utc_or_none(agent.last_started),
            last_severity=agent.last_severity,
            avg_duration_ms=round(agent.avg_duration, 1) if agent.avg_duration is not None else None,
        )
        for agent in agents
    }


def is_lookup_id(value: object) -> bool:
    """Whether `value` can name an agent, councilor or execution: their ids are all slugs.

    Ids come from sockets, URLs and command lines; one that is no slug names no row, and must not
    reach the database (PostgreSQL answers a NUL in a query with an error, not with "no row").
    """
    return isinstance(value, str) and slug_re.fullmatch(value) is not None


def agent_find(*, agent_id: str) -> Agent | None:
    """The agent with this agent_id, or None."""
    return Agent.objects.filter(agent_id=agent_id).first() if is_lookup_id(agent_id) else None


def agent_find_for_api(*, agent_id: str) -> Agent | None:
    """The agent with this agent_id if it is available through the API, else None (as if it did not exist)."""
    agent = agent_find(agent_id=agent_id)
    return agent if agent is not None and agent.api_enabled else None


def user_find(*, user_id: int | None) -> Any:
    """The user with this pk, or None (none given, or deleted since)."""
    return get_user_model().objects.filter(pk=user_id).first() if user_id is not None else None


def councilor_get(*, councilor_id: str) -> Councilor:
    """The councilor whose agent has this agent_id (Councilor.DoesNotExist otherwise)."""
    if not is_lookup_id(councilor_id):
        raise Councilor.DoesNotExist(f"No councilor {councilor_id!r}.")
    return Councilor.objects.select_related("agent").get(agent__agent_id=councilor_id)


def worker_clusters_alive() -> int:
    """How many django-q2 clusters have reported a heartbeat recently and are not stopping (0 when none, or unknown).

    A stopped cluster's last heartbeat lives on for its 3 s expiry: it takes no new task, so it is not counted.
    """
    from django_q.conf import Conf

    # The status travels lazy (pickled as a translatable text), so it compares in this process's language.
    return sum(1 for stat in worker_cluster_stats() if stat.status not in (Conf.STOPPING, Conf.STOPPED))


def worker_cluster_stats() -> list[Any]:
    """The heartbeats (django-q2 `Stat`s) of the clusters that reported one recently; [] when unknown.

    Read without writing anything back. django-q2's own reader (`Stat.get_all`) rewrites the cached
    list of heartbeat keys as it read it, less the expired ones: a reader that read the list just
    before a cluster's first heartbeat added its key and wrote it back just after dropped that key,
    and the live cluster read as none until its next heartbeat (an admin's Run was refused, now and
    then, under load). The clusters themselves keep the list: each adds its key back if missing and
    drops expired ones when it adds its own.
    """
    from django_q.brokers import get_broker
    from django_q.conf import Conf
    from django_q.signing import BadSignature, SignedPackage

    try:
        cache = get_broker().cache
        packs = cache.get_many(cache.get(Conf.Q_STAT) or []).values() if cache is not None else []
        stats = []
        for pack in packs:
            try:
                stats.append(SignedPackage.loads(pack))
            except BadSignature:
                continue  # another deployment's cluster sharing the cache (another SECRET_KEY)
        return stats
    except Exception:  # noqa: BLE001 - an unreadable heartbeat store means no worker we can rely on
        return []


# Buckets of the run-duration histogram, in seconds (runs take from a blink to many minutes).
DURATION_BUCKETS_S = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)


def executions_by_status_severity() -> dict[tuple[str, str], int]:
    """How many executions there are per (status, severity); severity is "" while running."""
    rows = Execution.objects.order_by().values("status", "severity").annotate(count=Count("pk"))
    return {(row["status"], row["severity"]): row["count"] for row in rows}


def execution_duration_histogram() -> tuple[list[tuple[float, int]], int, float]:
    """Finished runs' durations: cumulative (bucket upper bound s, count) pairs, total count, sum in seconds."""
    finished = Execution.objects.filter(FINISHED, duration_ms__isnull=False).order_by()
    buckets = {
        f"le_{index}": Count("pk", filter=Q(duration_ms__lte=int(bound * 1000)))
        for index, bound in enumerate(DURATION_BUCKETS_S)
    }
    totals = finished.aggregate(total=Count("pk"), total_ms=Sum("duration_ms"), **buckets)
    pairs = [(bound, totals[f"le_{index}"]) for index, bound in enumerate(DURATION_BUCKETS_S)]
    return pairs, totals["total"], (totals["total_ms"] or 0) / 1000


QUEUE_SCAN_LIMIT = 5000
# The django-q2 task keyword naming who asked for a run (a user's pk, or None): the worker records it
# on the execution, and the API reads it from the queue to show a queued run to its requester only.
REQUESTED_BY_ARG = "requested_by_id"


@dataclass(frozen=True)
class QueuedRun:
    """A run still waiting in django-q2's queue: its record is written only when a worker starts it."""

    execution_id: str
    agent_id: str
    requested_by_id: int | None


def execution_queued(*, execution_id: str) -> QueuedRun | None:
    """The run waiting in the queue under this execution id, or None.

    `agent_enqueue` and `councilor_enqueue` name the task after the execution id and pass who asked
    for it; between queueing and a worker's start this is how the API knows the id is real, and whose.
    """
    from django_q.models import OrmQ

    for queued in OrmQ.objects.order_by("-pk")[:QUEUE_SCAN_LIMIT]:
        if queued.name() == execution_id:
            args, kwargs = queued.args() or (), queued.kwargs() or {}
            return QueuedRun(
                execution_id=execution_id,
                agent_id=str(args[0]) if args else "",
                requested_by_id=kwargs.get(REQUESTED_BY_ARG),
            )
    return None


def execution_queued_agent(*, execution_id: str) -> str | None:
    """The agent_id of a run still waiting in the queue under this execution id, else None."""
    queued = execution_queued(execution_id=execution_id)
    return queued.agent_id if queued is not None else None


def execution_visible_to(*, execution: Execution | QueuedRun, user: Any) -> bool:
    """Whether `user` may read the run's prompt and output: they asked for it, or hold the view permission."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    requested_by_id = execution.requested_by_id
    return (requested_by_id is not None and requested_by_id == user.pk) or user.has_perm(VIEW_EXECUTION_PERMISSION)


def execution_find_visible(*, execution_id: str, user: Any) -> Execution | QueuedRun | None:
    """The execution (or its queued run) if it exists and `user` may see it; None otherwise.

    Both cases answer the same: execution ids are public in events, so "not yours" must not be
    told apart from "no such run".
    """
    if not is_lookup_id(execution_id):
        return None
    found = Execution.objects.select_related("agent", "councilor").filter(execution_id=execution_id).first()
    found = found or execution_queued(execution_id=execution_id)
    if found is None or not execution_visible_to(execution=found, user=user):
        return None
    return found


def executions_visible(*, user: Any) -> QuerySet[Execution]:
    """Every run whose details `user` may see (execution_visible_to's rule, as a query), newest first."""
    runs = Execution.objects.select_related("agent", "councilor", "requested_by").order_by("-started_at", "-pk")
    if user is None or not user.is_authenticated or not user.is_active:
        return runs.none()
    return runs if user.has_perm(VIEW_EXECUTION_PERMISSION) else runs.filter(requested_by_id=user.pk)


def agents_with_metrics() -> list[tuple[Agent, AgentMetrics]]:
    """Every agent with its metrics, in display order."""
    metrics = agents_metrics_list()
    return [(agent, metrics[agent.agent_id]) for agent in Agent.objects.all()]


def councilor_failure_streak(*, councilor: Councilor, limit: int) -> int:
    """How many of the councilor's latest finished runs failed in a row (counted up to `limit`).

    A run retried counts once, by its last attempt (councilors.retries): the streak is of runs, not tries.
    """
    latest = councilor.executions.filter(FINISHED).order_by("-started_at", "-pk")
    rows = latest.values_list("pk", "first_attempt_id", "status")[: limit * MAX_ATTEMPTS_SCANNED]
    streak, seen = 0, set()
    for pk, first_attempt_id, status in rows:
        chain = first_attempt_id or pk
        if chain in seen:
            continue
        seen.add(chain)
        if status not in (Execution.Status.ERROR, Execution.Status.TIMED_OUT) or streak >= limit:
            break
        streak += 1
    return streak


def councilors_overview() -> QuerySet[Councilor]:
    """Councilors with their agent, django-q2 schedule and latest run (`last_*`, None if it never ran)."""
    # The one way to read councilors for a list: the API, the dashboard, the admin and list_councilors.
    latest = Execution.objects.filter(councilor=OuterRef("pk")).order_by("-started_at", "-pk")
    return Councilor.objects.select_related("agent", "q_schedule").annotate(
        last_execution_id=Subquery(latest.values("execution_id")[:1]),
        last_status=Subquery(latest.values("status")[:1]),
        last_severity=Subquery(latest.values("severity")[:1]),
        last_started_at=Subquery(latest.values("started_at")[:1]),
        last_completed_at=Subquery(latest.values("completed_at")[:1]),
        last_duration_ms=Subquery(latest.values("duration_ms")[:1]),
    )


def councilors_incidents_open() -> dict[int, list[str]]:
    """The kinds of open incident of each councilor (its pk), for the councilors table and the API."""
    kinds: dict[int, list[str]] = {}
    for councilor_pk, kind in (
        RunIncident.objects.filter(resolved_at__isnull=True).order_by("kind").values_list("councilor_id", "kind")
    ):
        if kind not in kinds.setdefault(councilor_pk, []):
            kinds[councilor_pk].append(kind)
    return kinds


def execution_wait_finished(*, execution_id: str, timeout: float, poll: float = 0.25) -> Execution | SkippedRun | None:
    """The execution once it has ended (not queued or running), or the SkippedRun in its place; None on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        execution = Execution.objects.select_related("agent").filter(execution_id=execution_id).first()
        if execution is not None and execution.status not in Execution.IN_FLIGHT:
            return execution
        skipped = SkippedRun.objects.filter(execution_id=execution_id).first() if execution is None else None
        if skipped is not None:
            return skipped
        if time.monotonic() >= deadline:
            return None
        # Another process (a worker cluster) finishes the row; the database is the only thing we share with it.
        time.sleep(poll)


def agent_executions_list(*, agent: Agent, severity: str = "", status: str = "") -> QuerySet[Execution]:
    """The agent's runs, newest first, narrowed to one severity and/or status when given."""
    runs = Execution.objects.filter(agent=agent).select_related("agent", "councilor").order_by("-started_at", "-pk")
    if severity:
        runs = runs.filter(severity=severity)
    if status:
        runs = runs.filter(status=status)
    return runs


class TrendPoint(TypedDict):
    execution_id: str
    started_at: str
    duration_ms: int
    severity: str


def _trend_point(execution: Execution) -> TrendPoint:
    return TrendPoint(
        execution_id=execution.execution_id,
        started_at=execution.started_at.isoformat(),
        duration_ms=execution.duration_ms or 0,
        severity=execution.severity,
    )


def agents_trends_list(
    *, agents: QuerySet[Agent] | None = None, limit: int = TREND_RUNS
) -> dict[str, list[TrendPoint]]:
    """Each agent's latest `limit` finished runs, oldest first (the trend charts), in one query."""
    ranked = (
        Execution.objects.filter(FINISHED)
        .annotate(
            rank=Window(RowNumber(), partition_by=[F("agent_id")], order_by=[F("started_at").desc(), F("pk").desc()])
        )
        .filter(rank__lte=limit)
        .select_related("agent")
        .order_by("started_at", "pk")
    )
    if agents is not None:
        ranked = ranked.filter(agent__in=agents)
    trends: dict[str, list[TrendPoint]] = {}
    for execution in ranked:
        trends.setdefault(execution.agent.agent_id, []).append(_trend_point(execution))
    return trends


def agent_trend_get(*, agent: Agent, limit: int = TREND_RUNS) -> list[TrendPoint]:
    """The agent's latest `limit` finished runs, oldest first: durations, severities (its trend chart)."""
    return agents_trends_list(agents=Agent.objects.filter(pk=agent.pk), limit=limit).get(agent.agent_id, [])
