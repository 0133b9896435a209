import pytest
from django.core.management import CommandError, call_command
from django_q.brokers import get_broker
from django_q.conf import Conf

from councilors.management.commands.check_workers import NONE_ALIVE
from councilors.selectors import worker_cluster_stats, worker_clusters_alive
from tests.councilors.cluster import eventually, qclusters


@pytest.mark.django_db(transaction=True)
def test_check_workers_fails_without_a_cluster():
    with pytest.raises(CommandError, match=NONE_ALIVE):
        call_command("check_workers")


@pytest.mark.django_db(transaction=True)
def test_check_workers_rejects_a_bad_interval():
    with pytest.raises(CommandError, match="positive"):
        call_command("check_workers", watch=0)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_check_workers_counts_a_live_cluster(tmp_path, capsys):
    with qclusters(log_dir=tmp_path):
        call_command("check_workers")
    assert capsys.readouterr().out.strip() == "1 worker cluster alive"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_stopped_cluster_no_longer_counts_though_its_last_heartbeat_has_not_expired(tmp_path):
    # An earlier test's cluster leaves its "Stopped" heartbeat for django-q2's 3 s expiry: let it go first.
    eventually(lambda: worker_cluster_stats() == [], timeout=10, what="earlier clusters' heartbeats expired")
    with qclusters(log_dir=tmp_path):
        assert worker_clusters_alive() == 1
    # Its last heartbeat says "Stopped" and lives on for django-q2's 3 s expiry: it takes no task.
    assert [str(stat.status) for stat in worker_cluster_stats()] == [str(Conf.STOPPED)]
    assert worker_clusters_alive() == 0


@pytest.mark.django_db(transaction=True)
def test_reading_the_heartbeats_writes_nothing_back():
    # django-q2's own reader rewrites the list of heartbeat keys; racing a cluster's first heartbeat,
    # that dropped the live cluster's key. This read leaves the list as the clusters keep it.
    cache = get_broker().cache
    cache.set(Conf.Q_STAT, ["gone-cluster"], None)

    assert worker_cluster_stats() == []

    assert cache.get(Conf.Q_STAT) == ["gone-cluster"]
