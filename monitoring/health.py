"""What /healthz and /metrics report: the parts the gateway depends on, and Prometheus metrics."""

import logging
import os
from typing import Any

from django.db import connection
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from councilors.metrics import ExecutionsCollector
from councilors.selectors import worker_clusters_alive
from infrastructure.redis_access import redis_sync

logger = logging.getLogger(__name__)

NO_WORKERS = "no django-q2 worker cluster has reported a heartbeat recently"
# What an anonymous caller learns of a part that raised: no exception text (it can name hosts,
# users, file paths); the server log has the details.
CHECK_FAILED = "check failed (details in the server log)"


def _database() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"ok": True}


def _redis() -> dict[str, Any]:
    redis_sync().ping()
    return {"ok": True}


def _workers() -> dict[str, Any]:
    clusters = worker_clusters_alive()
    return {"ok": True, "clusters": clusters} if clusters else {"ok": False, "clusters": 0, "error": NO_WORKERS}


CHECKS = {"database": _database, "redis": _redis, "workers": _workers}


def health_checks() -> dict[str, dict[str, Any]]:
    """Each part's state: {"ok": bool, ...}; a part that raises is down (the exception goes to the log only)."""
    results = {}
    for name, check in CHECKS.items():
        try:
            results[name] = check()
        except Exception:  # noqa: BLE001 - any failure of a part is what a health check reports
            logger.warning("health check %s failed", name, exc_info=True)
            results[name] = {"ok": False, "error": CHECK_FAILED}
    return results


def metrics_exposition() -> bytes:
    """This process's (or, in multiprocess mode, this machine's) counters, then the database-derived run metrics."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        counters = generate_latest(registry)
    else:
        counters = generate_latest(REGISTRY)
    runs = CollectorRegistry(auto_describe=False)
    runs.register(ExecutionsCollector())
    return counters + generate_latest(runs)
