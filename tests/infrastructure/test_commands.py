"""Every management command of the project under a Portuguese shell (infrastructure/commands.py):
`LANG=pt_BR.UTF-8 manage.py <command> --help` works (a lazy help text once crashed argparse's
formatter) and reads in Portuguese, the parts argparse and Django add included (issue 21, "Commands")."""

from pathlib import Path

import pytest

from tests.councilors.test_command_output import ENGLISH, PORTUGUESE, manage_py
from tests.processes import PROJECT_DIR

COMMAND_DIRS = ("councilors/management/commands", "gamification/management/commands")
# A piece of each command's own description, as the Portuguese catalogue words it.
PORTUGUESE_DESCRIPTIONS = {
    "cancel_run": "Cancela uma execução",
    "check_workers": "Informa os clusters do django-q2 ativos",
    "emit_event": "Emite um evento do catálogo",
    "list_councilors": "Lista os conselheiros",
    "pause_councilor": "Pausa um conselheiro",
    "prune_runs": "Apaga execuções mais antigas",
    "resume_councilor": "Retoma um conselheiro pausado",
    "run_cluster": "Inicia um cluster do django-q2",
    "run_councilor": "Executa um conselheiro agora",
    "seed_demo": "Cria agentes e conselheiros de demonstração",
    "ws_token": "Imprime um token assinado",
}
# What argparse and Django add to every --help, in Portuguese; none of their English may remain.
PORTUGUESE_FRAME = ("uso: manage.py", "opções:", "mostra esta mensagem de ajuda e sai", "Ignora as verificações")
ENGLISH_FRAME = ("usage:", "options:", "show this help message", "Verbosity level", "Skip system checks")


def project_commands() -> list[str]:
    return sorted(
        path.stem
        for folder in COMMAND_DIRS
        for path in (Path(PROJECT_DIR) / folder).glob("*.py")
        if not path.stem.startswith("_")
    )


def test_every_command_has_its_portuguese_description_listed():
    assert sorted(PORTUGUESE_DESCRIPTIONS) == project_commands()


@pytest.mark.parametrize("command", sorted(PORTUGUESE_DESCRIPTIONS))
def test_help_under_a_portuguese_shell_works_and_reads_in_portuguese(command):
    result = manage_py(command, "--help", **PORTUGUESE)
    assert result.returncode == 0, result.stderr
    help_text = " ".join(result.stdout.split())  # argparse wraps lines at the terminal's width
    assert PORTUGUESE_DESCRIPTIONS[command] in help_text
    for portuguese in PORTUGUESE_FRAME:
        assert portuguese in help_text
    for english in ENGLISH_FRAME:
        assert english not in help_text
    assert result.stderr == ""


def test_help_under_an_english_shell_stays_english():
    result = manage_py("run_councilor", "--help", **ENGLISH)
    assert result.returncode == 0, result.stderr
    help_text = " ".join(result.stdout.split())
    assert "Run one councilor now." in help_text
    assert "usage: manage.py run_councilor" in help_text
    assert "options:" in help_text
