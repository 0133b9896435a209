"""Management commands (README, "Management commands"): success paths, and a clear CommandError on bad input."""

import getpass
import re
import socket
import sys
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from councilors.demo import demo_definitions
from councilors.management.commands.list_councilors import NO_COUNCILORS
from councilors.management.lookup import ACTOR_NAME_MAX, BAD_ACTOR
from councilors.models import ActionRecord, Agent, Councilor, Execution, SkippedRun
from councilors.services import execution_start
from tests.factories import make_agent, make_councilor

PY = sys.executable


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


# --- run_councilor --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_run_councilor_without_a_worker_runs_here_and_prints_the_result():
    councilor = make_councilor(agent=make_agent(runner_config={"argv": [PY, "-c", "print('Warning: slow disk')"]}))
    output = run("run_councilor", councilor.councilor_id)
    execution = Execution.objects.get(councilor=councilor)
    assert (execution.status, execution.severity) == ("completed", "warning")
    assert f"No worker cluster is running; ran {councilor.councilor_id} in this process." in output
    assert f"{execution.execution_id}: ⚠️ Completed with warnings (" in output
    assert "; completed, severity warning)" in output
    assert "Warning: slow disk" in output


@pytest.mark.django_db
def test_run_councilor_exits_non_zero_when_the_run_fails_and_keeps_the_record():
    councilor = make_councilor(agent=make_agent(runner_config={"argv": [PY, "-c", "raise SystemExit(5)"]}))
    with pytest.raises(CommandError, match=r"Execution exec_\S+ failed: exited with status 5"):
        run("run_councilor", councilor.councilor_id)
    assert Execution.objects.get(councilor=councilor).severity == "error"


@pytest.mark.django_db
def test_run_councilor_without_a_worker_skips_a_run_that_would_overlap():
    councilor = make_councilor()
    running = execution_start(agent=councilor.agent, councilor=councilor, prompt="still going")
    with pytest.raises(CommandError, match=r"Run exec_\S+ of .+ was skipped: previous run still running"):
        run("run_councilor", councilor.councilor_id)
    skipped = SkippedRun.objects.get(councilor=councilor)
    assert (skipped.reason, skipped.running_execution) == ("overlap", running)
    assert list(Execution.objects.filter(councilor=councilor)) == [running]


@pytest.mark.django_db
def test_run_councilor_with_an_unknown_id_names_the_known_ones():
    make_councilor(agent=make_agent(agent_id="security"))
    with pytest.raises(CommandError) as excinfo:
        run("run_councilor", "nope")
    assert str(excinfo.value) == "No councilor with id 'nope'. Known ids: security (see `manage.py list_councilors`)."
    assert not Execution.objects.exists()


@pytest.mark.django_db
def test_run_councilor_refuses_an_agent_that_is_not_a_councilor():
    agent = make_agent()
    with pytest.raises(CommandError, match="No councilor with id"):
        run("run_councilor", agent.agent_id)


@pytest.mark.django_db
def test_run_councilor_refuses_a_non_positive_timeout():
    councilor = make_councilor()
    with pytest.raises(CommandError, match="--timeout must be a positive number"):
        run("run_councilor", councilor.councilor_id, "--wait", "--timeout", "0")
    assert not Execution.objects.exists()


def test_run_councilor_without_an_id_is_a_usage_error():
    with pytest.raises(CommandError, match="the following arguments are required: councilor_id"):
        run("run_councilor")


# --- list / pause / resume ------------------------------------------------------------------------


@pytest.mark.django_db
def test_list_councilors_prints_a_table():
    ran = make_councilor(agent=make_agent(agent_id="deps"), title="Dependency audit", schedule_value="1h")
    make_councilor(
        agent=make_agent(agent_id="nightly"), schedule_type="cron", schedule_value="0 6 * * *", enabled=False
    )
    run("run_councilor", ran.councilor_id)
    lines = run("list_councilors").splitlines()
    assert lines[0].split() == ["id", "title", "schedule", "enabled", "last", "run", "result"]
    assert lines[1].startswith("deps ") and "Dependency audit" in lines[1] and "every 1h" in lines[1]
    assert lines[1].split()[-1] == "Succeeded"
    assert lines[2].startswith("nightly ") and "cron 0 6 * * *" in lines[2] and "paused" in lines[2]
    assert lines[2].split()[-2:] == ["never", "-"]


@pytest.mark.django_db
def test_list_councilors_when_there_are_none():
    assert run("list_councilors").strip() == NO_COUNCILORS


@pytest.mark.django_db
def test_pause_and_resume_councilor():
    councilor = make_councilor(enabled=True)
    assert (
        run("pause_councilor", councilor.councilor_id).strip()
        == f"Paused {councilor.councilor_id} ({councilor.title})."
    )
    assert Councilor.objects.get(pk=councilor.pk).enabled is False
    assert run("resume_councilor", councilor.councilor_id, "--by", "ops").startswith("Resumed")
    assert Councilor.objects.get(pk=councilor.pk).enabled is True


@pytest.mark.django_db
@pytest.mark.parametrize("command", ["pause_councilor", "resume_councilor"])
def test_pause_and_resume_refuse_unknown_ids(command):
    councilor = make_councilor(enabled=True)
    with pytest.raises(CommandError, match="No councilor with id 'ghost'"):
        run(command, "ghost")
    assert Councilor.objects.get(pk=councilor.pk).enabled is True


# --- every action from a shell on record ----------------------------------------------------------


def command_records() -> list[tuple]:
    fields = ("actor", "actor_name", "action", "target", "execution_id", "source", "address")
    return list(ActionRecord.objects.order_by("pk").values_list(*fields))


@pytest.mark.django_db
def test_pause_resume_and_run_councilor_are_recorded_with_the_name_and_host():
    councilor = make_councilor(enabled=True)
    cid, host = councilor.councilor_id, socket.gethostname()
    run("pause_councilor", cid, "--by", "ops")
    run("resume_councilor", cid)
    run("run_councilor", cid, "--by", "night-shift")

    execution = Execution.objects.get(councilor=councilor)
    assert command_records() == [
        (None, "ops", "pause", cid, "", "command", host),
        (None, getpass.getuser(), "resume", cid, "", "command", host),
        (None, "night-shift", "run_now", cid, execution.execution_id, "command", host),
    ]
    assert execution.requested_by is None


@pytest.mark.django_db
@pytest.mark.parametrize("by", ["", "   ", "x" * (ACTOR_NAME_MAX + 1)])
@pytest.mark.parametrize("command", ["pause_councilor", "resume_councilor", "run_councilor"])
def test_a_blank_or_overlong_by_is_refused_and_changes_nothing(command, by):
    councilor = make_councilor(enabled=True)
    with pytest.raises(CommandError, match=re.escape(BAD_ACTOR)):
        run(command, councilor.councilor_id, "--by", by)
    assert Councilor.objects.get(pk=councilor.pk).enabled is True
    assert not ActionRecord.objects.exists() and not Execution.objects.exists()


# --- seed_demo ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_seed_demo_is_idempotent():
    first = run("seed_demo")
    # The heartbeat (every minute), three checks (one per severity) and the summarizer (no councilor).
    assert Agent.objects.count() == len(demo_definitions()) == 5
    assert Councilor.objects.count() == 4
    assert first.count("created") == 5
    second = run("seed_demo")
    assert "created" not in second and second.count("exists") == 5
    assert (Agent.objects.count(), Councilor.objects.count()) == (5, 4)


@pytest.mark.django_db
def test_seed_demo_agents_are_available_through_the_api():
    run("seed_demo")
    assert set(Agent.objects.filter(api_enabled=True).values_list("agent_id", flat=True)) == {
        demo.agent["agent_id"] for demo in demo_definitions()
    }


@pytest.mark.django_db
def test_seed_demo_keeps_an_admins_changes():
    run("seed_demo")
    Councilor.objects.filter(agent__agent_id="python-version").update(schedule_value="5m")
    run("seed_demo")
    assert Councilor.objects.get(agent__agent_id="python-version").schedule_value == "5m"


@pytest.mark.django_db
def test_seed_demo_councilors_really_run_with_each_severity():
    run("seed_demo")
    assert "severity success" in run("run_councilor", "python-version")
    assert "severity warning" in run("run_councilor", "dependency-audit")
    with pytest.raises(CommandError, match="exited with status 2"):
        run("run_councilor", "backup-check")
    results = {e.agent.agent_id: (e.status, e.severity) for e in Execution.objects.select_related("agent")}
    assert results == {
        "python-version": ("completed", "success"),
        "dependency-audit": ("completed", "warning"),
        "backup-check": ("error", "error"),
    }
    assert Execution.objects.get(agent__agent_id="python-version").output.startswith("Python 3.")


@pytest.mark.django_db
def test_the_demo_python_agent_runs():
    from councilors.services import agent_run

    run("seed_demo")
    execution = agent_run(agent=Agent.objects.get(agent_id="summarizer"), prompt="release notes")
    assert (execution.status, execution.severity) == ("completed", "success")
    assert execution.output == "Summary of 'release notes' over 0 context file(s): nothing to report."
