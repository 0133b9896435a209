"""django-q2's task results stay bounded: the cluster loop trims successes to the newest ones, failures stay."""

import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from django_q.models import Failure, Success, Task

from councilors.cluster_loop import ClusterLoop
from councilors.task_results import TASK_RESULTS_KEPT, task_results_prune
from tests.councilors.test_cluster_loop import TICK_S, StandInCluster

pytestmark = pytest.mark.django_db(transaction=True)  # the loop closes old connections, as qcluster does


def results(count: int, *, success: bool = True) -> list[str]:
    """`count` stored task results, one second apart (the last is the newest); returns their ids."""
    start = timezone.now() - timedelta(hours=1)
    ids = [uuid.uuid4().hex for _ in range(count)]
    Task.objects.bulk_create(
        Task(
            id=task_id,
            name=f"task {n}",
            func="councilors.tasks.run_scheduled_councilor_task",
            started=start + timedelta(seconds=n),
            stopped=start + timedelta(seconds=n, milliseconds=500),
            success=success,
        )
        for n, task_id in enumerate(ids)
    )
    return ids


def test_django_q2_keeps_every_result_and_leaves_the_trim_to_the_loop():
    # django-q2's own pruning (save_limit > 0) reads every stored success on each task saved.
    assert settings.Q_CLUSTER["save_limit"] == 0


def test_all_but_the_newest_successes_are_deleted_and_failures_stay():
    successes, failures = results(7), results(2, success=False)

    assert task_results_prune(keep=3) == 4

    assert set(Success.objects.values_list("id", flat=True)) == set(successes[-3:])
    assert set(Failure.objects.values_list("id", flat=True)) == set(failures)


def test_nothing_is_deleted_within_the_limit():
    successes = results(3)

    assert task_results_prune(keep=3) == 0
    assert task_results_prune(keep=0) == 0  # a limit of nothing is no limit, never "delete them all"
    assert set(Success.objects.values_list("id", flat=True)) == set(successes)


def test_the_cluster_loop_trims_with_the_reaper():
    results(TASK_RESULTS_KEPT + 5)

    ClusterLoop(cluster=StandInCluster(alive_for=1), tick=TICK_S, reap_every=3600.0).run()

    assert Success.objects.count() == TASK_RESULTS_KEPT
