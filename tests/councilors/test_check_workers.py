import pytest
from django.core.management import CommandError, call_command

from councilors.management.commands.check_workers import NONE_ALIVE
from tests.councilors.cluster import qclusters


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
