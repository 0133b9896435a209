"""With a real django-q2 cluster running, "run now" (command and admin) queues the run for it."""

import re
import subprocess
import sys
import time
from io import StringIO

import pytest
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from councilors import services
from councilors.admin_run import run_page_url
from councilors.models import ActionRecord, Execution, SkippedRun
from councilors.selectors import execution_wait_finished
from councilors.services import execution_start
from infrastructure.tokens import token_mint
from tests.councilors.cluster import live_clusters
from tests.factories import make_agent, make_councilor
from tests.processes import PROJECT_DIR, manage, process_env

PY = sys.executable
CLUSTER_START_TIMEOUT_S = 60


def queued_id(message: str) -> str:
    """The execution id a "queued for a worker as <a href=run page>id</a>." message names, checking its link."""
    execution_id = re.search(r">(exec_[^<]+)</a>\.$", message).group(1)
    assert f'href="{run_page_url(execution_id)}"' in message
    return execution_id


def wait_for_cluster() -> None:
    deadline = time.monotonic() + CLUSTER_START_TIMEOUT_S
    while not live_clusters():
        assert time.monotonic() < deadline, "the qcluster never reported a heartbeat"
        time.sleep(0.2)  # the heartbeat lives in the database cache; there is nothing to await


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_run_now_queues_for_a_live_worker_cluster(admin_client, tmp_path):
    warning = make_councilor(agent=make_agent(runner_config={"argv": [PY, "-c", "print('caution: 80% used')"]}))
    failing = make_councilor(agent=make_agent(runner_config={"argv": [PY, "-c", "raise SystemExit(9)"]}))
    with manage("run_cluster", log_path=tmp_path / "qcluster.log"):
        wait_for_cluster()

        out = StringIO()
        call_command("run_councilor", warning.councilor_id, "--wait", "--timeout", "60", stdout=out)
        text = out.getvalue()
        assert f"Queued {warning.councilor_id} for a worker cluster as exec_" in text
        assert "completed, severity warning" in text

        # At the shell: the result, not django-q2's "Enqueued [conductor] 13" nor any INFO line.
        shell = subprocess.run(
            [PY, "manage.py", "run_councilor", warning.councilor_id, "--wait", "--timeout", "60"],
            cwd=PROJECT_DIR,
            env=process_env(LANG="C.UTF-8"),
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert shell.returncode == 0, shell.stderr
        assert shell.stdout.startswith(f"Queued {warning.councilor_id} for a worker cluster as exec_")
        assert shell.stderr == ""
        assert "Enqueued" not in shell.stdout

        # A run that would overlap one still going is skipped by the worker, and --wait says so.
        busy = make_councilor()
        running = execution_start(agent=busy.agent, councilor=busy, prompt="still going")
        with pytest.raises(CommandError, match="was skipped: previous run still running"):
            call_command("run_councilor", busy.councilor_id, "--wait", "--timeout", "60", stdout=StringIO())
        assert SkippedRun.objects.get(councilor=busy).running_execution == running
        running.delete()

        response = admin_client.post(
            reverse("admin:councilors_councilor_changelist"),
            {"action": "run_now", "_selected_action": [failing.pk]},
            follow=True,
        )
        [message] = [str(m) for m in get_messages(response.wsgi_request)]
        assert "queued for a worker as " in message
        execution_id = queued_id(message)
        execution = execution_wait_finished(execution_id=execution_id, timeout=60)
        assert execution is not None, (tmp_path / "qcluster.log").read_text()
        assert (execution.status, execution.severity, execution.error) == ("error", "error", "exited with status 9")

        # An agent's "Run now" (its change page) queues too, with the prompt asked for.
        argv = [PY, "-c", "import os; print(os.environ['CONDUCTOR_PROMPT'])"]
        plain = make_agent(runner_config={"argv": argv}, api_enabled=True)
        url = reverse("admin:councilors_agent_run", args=[plain.pk])
        response = admin_client.post(url, {"prompt": "count the sheep", "instance_id": ""}, follow=True)
        [message] = [str(m) for m in get_messages(response.wsgi_request)]
        assert f"{plain.label}: queued for a worker as " in message
        execution = execution_wait_finished(execution_id=queued_id(message), timeout=60)
        assert (execution.status, execution.output, execution.kind) == ("completed", "count the sheep\n", "agent")
    assert Execution.objects.filter(status="running").count() == 0


def test_run_cluster_is_ours_and_qcluster_is_django_q2_s_own():
    """The scheduler's loop starts from a command of its own; no app shadows django-q2's `qcluster`."""
    from django.core.management import get_commands
    from django_q.management.commands.qcluster import Command as QCluster

    from councilors.management.commands.run_cluster import Command as RunCluster

    commands = get_commands()
    assert (commands["run_cluster"], commands["qcluster"]) == ("councilors", "django_q")
    assert issubclass(RunCluster, QCluster)  # same options, same cluster


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_django_q2_s_own_qcluster_still_runs_queued_runs(tmp_path):
    """Operators who start `manage.py qcluster` get a working cluster (without Conductor's tick and reaper)."""
    councilor = make_councilor()
    with manage("qcluster", log_path=tmp_path / "qcluster.log"):
        wait_for_cluster()
        out = StringIO()
        call_command("run_councilor", councilor.councilor_id, "--wait", "--timeout", "60", stdout=out)
    assert "completed, severity success" in out.getvalue(), (tmp_path / "qcluster.log").read_text()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_channel_prefix")  # a rate-limit bucket of this test's own
def test_an_agent_s_run_now_counts_in_the_api_s_execute_rate_limit(admin_client, admin_user, settings, tmp_path):
    settings.API_EXECUTE_RATE_LIMIT = 2
    settings.API_EXECUTE_RATE_WINDOW_S = 86_400  # one window for the whole test
    agent = make_agent(api_enabled=True)
    run_url = reverse("admin:councilors_agent_run", args=[agent.pk])
    api_url = reverse("api:agent_execute", args=[agent.agent_id])
    bearer = {"Authorization": f"Bearer {token_mint(user=admin_user)}"}
    with manage("run_cluster", log_path=tmp_path / "qcluster.log"):
        wait_for_cluster()

        response = admin_client.post(run_url, {"prompt": "one", "instance_id": ""}, follow=True)  # 1st in the bucket
        [message] = [str(m) for m in get_messages(response.wsgi_request)]
        first = queued_id(message)
        api = Client().post(api_url, {"prompt": "two"}, content_type="application/json", headers=bearer)  # 2nd
        assert api.status_code == 202, api.content

        response = admin_client.post(run_url, {"prompt": "three", "instance_id": ""})  # 3rd: over the limit
        refused = services.RUN_RATE_LIMITED % {"limit": 2, "window": 86_400}
        assert [str(m) for m in get_messages(response.wsgi_request)] == [f"{agent.label}: not run — {refused}"]
        assert (
            Client().post(api_url, {"prompt": "four"}, content_type="application/json", headers=bearer).status_code
            == 429
        )

        second = api.json()["execution_id"]
        for execution_id in (first, second):
            assert execution_wait_finished(execution_id=execution_id, timeout=60).status == "completed"
    assert sorted(Execution.objects.values_list("prompt", flat=True)) == ["one", "two"]
    assert ActionRecord.objects.filter(target=agent.agent_id).count() == 2
