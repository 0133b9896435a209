"""django-q2's stored task results, kept to a bounded number by the cluster loop rather than by every task's save.

With Q_CLUSTER["save_limit"] above 0, django-q2's monitor prunes successes as it saves each task:
it reads and locks every stored success (up to the limit) to count them, then deletes the oldest,
so each run paid for a read of a thousand rows, and two clusters took turns on those locks.
Measured with bench/runs.py (docs/benchmarks.md, "Many councilors on schedule"). Q_CLUSTER therefore keeps
every result (save_limit 0) and each `run_cluster` trims them here with the reaper, every
COUNCILORS_REAPER_INTERVAL_S: one read of one row and one DELETE.
"""

from django_q.models import Success

# As many as save_limit kept before (conductor/settings/base.py); runs themselves are Executions.
TASK_RESULTS_KEPT = 1000


def task_results_prune(*, keep: int = TASK_RESULTS_KEPT) -> int:
    """Delete all but the newest `keep` successful task results (failures stay); returns how many went."""
    if keep <= 0:
        return 0
    oldest_kept = list(Success.objects.order_by("-stopped").values_list("stopped", flat=True)[keep - 1 : keep])
    if not oldest_kept:
        return 0
    deleted, _ = Success.objects.filter(stopped__lt=oldest_kept[0]).delete()
    return deleted
