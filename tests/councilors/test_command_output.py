"""What an operator sees at the shell (README, "Management commands"): the result and nothing else,
in the shell's language, durations and times as the pages write them (issue 21, "Commands")."""

import subprocess
import sys

import pytest

from tests.factories import make_agent, make_councilor
from tests.processes import PROJECT_DIR, PYTHON, process_env

PY = sys.executable
ENGLISH = {"LANG": "C.UTF-8", "LC_ALL": "", "LC_MESSAGES": ""}
PORTUGUESE = {"LANG": "pt_BR.UTF-8", "LC_ALL": "", "LC_MESSAGES": ""}


def manage_py(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=PROJECT_DIR,
        env=process_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def heartbeat(transactional_db):
    agent = make_agent(agent_id="heartbeat", name="Heartbeat", runner_config={"argv": [PY, "-c", "print('beat')"]})
    return make_councilor(agent=agent, title="Heartbeat")


def test_pause_and_resume_print_one_line_and_no_log_lines(heartbeat):
    paused = manage_py("pause_councilor", "heartbeat", "--by", "ops", **ENGLISH)
    resumed = manage_py("resume_councilor", "heartbeat", "--by", "ops", **ENGLISH)
    assert (paused.returncode, paused.stdout, paused.stderr) == (0, "Paused heartbeat (Heartbeat).\n", "")
    assert (resumed.returncode, resumed.stdout, resumed.stderr) == (0, "Resumed heartbeat (Heartbeat).\n", "")


def test_the_libraries_info_lines_come_back_with_verbosity_2(heartbeat):
    verbose = manage_py("pause_councilor", "heartbeat", "--by", "ops", "-v", "2", **ENGLISH)
    assert verbose.returncode == 0
    assert " INFO " in verbose.stderr


def test_run_councilor_prints_the_verdict_and_the_duration_in_the_shells_language(transactional_db):
    agent = make_agent(
        agent_id="backup", runner_config={"argv": [PY, "-c", "import sys; print('disk full'); sys.exit(2)"]}
    )
    make_councilor(agent=agent, title="Backup")
    english = manage_py("run_councilor", "backup", **ENGLISH)
    portuguese = manage_py("run_councilor", "backup", **PORTUGUESE)

    assert english.returncode == portuguese.returncode == 1
    assert "No worker cluster is running; ran backup in this process." in english.stdout
    assert "❌ Failed (" in english.stdout and "; error, severity error)" in english.stdout
    assert english.stderr.startswith("CommandError: Execution exec_backup_")
    assert english.stderr.rstrip().endswith("failed: exited with status 2")
    assert "0.0s" not in english.stdout

    assert "Nenhum cluster de workers está rodando; backup rodou neste processo." in portuguese.stdout
    assert "❌ Falhou (" in portuguese.stdout
    assert portuguese.stderr.rstrip().endswith("falhou: saiu com status 2")
    assert " INFO " not in english.stderr + portuguese.stderr


def test_emit_event_help_lists_every_type_its_error_names(transactional_db):
    help_text = manage_py("emit_event", "--help", **ENGLISH).stdout
    unknown = manage_py("emit_event", "no_such_event", **ENGLISH).stderr
    named = unknown.split("known types: ", 1)[1]
    for event_type in [name.strip(" .\n") for name in named.split(",")]:
        assert f"  {event_type}: " in help_text, event_type
    assert "councilor_run_queued: " in help_text
    assert "this command cannot emit it" in help_text.split("councilor_run_queued: ", 1)[1].split("\n", 1)[0]


def test_list_councilors_in_portuguese(heartbeat):
    listed = manage_py("list_councilors", **PORTUGUESE)
    assert listed.returncode == 0
    header = listed.stdout.splitlines()[0].split()
    assert header[:3] == ["id", "título", "agenda"]
    assert "a cada 1m" in listed.stdout or "a cada 30m" in listed.stdout
    assert "nunca" in listed.stdout


def test_prune_runs_speaks_the_shells_language_and_a_bad_setting_is_one_clear_line(transactional_db):
    make_agent(agent_id="heartbeat")
    portuguese = manage_py("prune_runs", "--dry-run", "--by", "ops", **PORTUGUESE)
    assert (portuguese.returncode, portuguese.stderr) == (0, "")
    assert (
        portuguese.stdout
        == "Apagaria 0 execução (mais antigas que 90 dias, além das 100 mais recentes de cada agente).\n"
    )
    bad = manage_py("prune_runs", "--by", "ops", COUNCILORS_KEEP_RUNS_MIN="0", **PORTUGUESE)
    assert bad.returncode == 1
    assert bad.stderr == (
        "CommandError: COUNCILORS_KEEP_RUNS_MIN deve ser 1 ou mais, para que a execução mais recente de um agente "
        "seja mantida (é 0).\n"
    )
