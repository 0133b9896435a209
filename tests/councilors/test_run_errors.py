"""A run's error in the reader's language (councilors/run_errors.py): every error text a runner
records in English is recognised and worded in Portuguese; anything else is shown as recorded.
Every text the runners, the sandbox, the reaper and the run service write (their named constants,
found by walking the modules) reads in Portuguese, as a run error or a settings refusal."""

import errno
import json
import os
import re
import shutil
import subprocess
from types import ModuleType

import pytest
from django.utils import translation
from django.utils.translation import gettext

from councilors import notifications, reaper, services
from councilors.run_errors import PLACEHOLDER, error_part_text, run_error_patterns, run_error_text
from councilors.runners import argv_policy, base, bounded, command, environment, http, limits, programs, python
from councilors.runners.base import CANCELLED, TIMED_OUT
from councilors.runners.http import REDIRECT_REFUSED, RESPONSE_TOO_LARGE, TOO_MANY_REDIRECTS
from councilors.runners.python import CALLABLE_INVALID, CALLABLE_NOT_ALLOWED, CANNOT_IMPORT
from councilors.runners.sandbox import bwrap, mode, paths
from councilors.runners.sandbox import run as sandbox_run
from tests.processes import PROJECT_DIR

# What the runners record (English, as a worker writes it), and how a Portuguese reader reads it.
RECORDED = [
    ("exited with status 2", "saiu com status 2"),
    (TIMED_OUT % {"seconds": 2.5}, "tempo esgotado após 2.5 s"),
    (CANCELLED, "cancelada"),
    (
        REDIRECT_REFUSED % {"origin": "https://a.example:443", "target": "https://b.example:443"},
        "redirecionamento de https://a.example:443 para outra origem (https://b.example:443) recusado",
    ),
    (
        TOO_MANY_REDIRECTS % {"limit": 3, "url": "https://a.example/run"},
        "mais de 3 redirecionamentos a partir de https://a.example/run",
    ),
    (
        RESPONSE_TOO_LARGE % {"url": "https://a.example/run", "limit": 1000},
        "a resposta de https://a.example/run tem mais de 1000 bytes (COUNCILORS_HTTP_MAX_RESPONSE_BYTES)",
    ),
    (
        CALLABLE_NOT_ALLOWED % {"path": "os.system", "allowed": "councilors.demo"},
        "a função 'os.system' não está num módulo listado em COUNCILORS_PYTHON_RUNNER_MODULES (agora: "
        "councilors.demo); um administrador do servidor acrescenta o módulo (ou o seu pacote) a essa configuração.",
    ),
    (CALLABLE_INVALID, 'callable deve ser o caminho com pontos de uma função, por exemplo "myapp.agents.review".'),
    (
        CANNOT_IMPORT % {"path": "agents.review", "reason": "No module named 'agents'"},
        "não foi possível importar 'agents.review': No module named 'agents'",
    ),
]


@pytest.mark.parametrize(("recorded", "portuguese"), RECORDED)
def test_each_recorded_error_reads_in_portuguese(recorded, portuguese):
    with translation.override("pt-br"):
        assert run_error_text(recorded) == portuguese


@pytest.mark.parametrize(("recorded", "portuguese"), RECORDED)
def test_each_recorded_error_reads_as_recorded_in_english(recorded, portuguese):
    # Units are written as the pages write them: "2.5 s" (infrastructure/formatting.py).
    english = {TIMED_OUT % {"seconds": 2.5}: "timed out after 2.5 s"}.get(recorded, recorded)
    with translation.override("en"):
        assert run_error_text(recorded) == english


def test_a_text_of_someone_else_is_shown_as_recorded():
    with translation.override("pt-br"):
        assert run_error_text("ValueError: the model is not loaded") == "ValueError: the model is not loaded"


def test_the_scripts_get_one_pattern_per_known_text_translated():
    with translation.override("pt-br"):
        patterns = run_error_patterns()
    messages = [pattern["message"] for pattern in patterns]
    assert "saiu com status %(status)s" in messages
    assert all("(?P<" not in pattern["pattern"] for pattern in patterns), "JavaScript's named groups are (?<name>"


MODULES: tuple[ModuleType, ...] = (
    base,
    command,
    argv_policy,
    environment,
    limits,
    http,
    python,
    programs,
    bounded,
    bwrap,
    mode,
    paths,
    sandbox_run,
    reaper,
    services,
    notifications,
)
# Constants with words that no reader sees as an error: log lines, output markers, settings' values.
NOT_SHOWN = {
    "command.PRLIMIT_EXEC_FAILED": "prlimit's own words, looked for in a run's output",
    "command.IN_THE_SANDBOX": "part of COULD_NOT_START's sandboxed line, worded with it",
    "mode.INSTALL_HINT": "part of SANDBOX_UNAVAILABLE, worded with it",
    "mode.WORKER_SANDBOXED": "a worker's log line",
    "mode.WORKER_UNSANDBOXED": "a worker's log line",
    "bounded.OUTPUT_TRUNCATED": "a marker in the output, which is shown as the program printed it",
    "bounded.LINE_TRUNCATED": "a marker in the output, which is shown as the program printed it",
    "services.TOGGLE_WITHOUT_ACTOR": "a programming error (ValueError) for code that forgets the actor",
    "services.ERROR_TRUNCATED": "the suffix of a cut error, worded with it (see the test below)",
    "notifications.EMAIL_SUBJECT": "an e-mail's subject, written in the site's language (LANGUAGE_CODE)",
}
# Sample values: what a placeholder of this name holds (narrowed groups need their real shapes).
SAMPLES = {
    "choices": " or ".join(mode.SANDBOXES),
    "ended": command.EXITED % {"status": 137},
    "hit": limits.MEMORY.hit % {"value": 512},
    "hidden": paths.PROJECT_DIRECTORY,
    "what": paths.READ_ONLY_PATH,
    "signal": "SIGKILL",
    "allowed": python.NO_MODULES,
}
# Words that say a text is still English (none of them is Portuguese, or a name the texts keep).
ENGLISH_WORDS = {"the", "must", "with", "from", "after", "cannot", "could", "would", "which", "its", "and"}
ENGLISH_WORDS |= {"not", "was", "has", "be", "is", "of", "to", "in", "on", "an", "than", "more", "lost"}


def project_texts() -> dict[str, str]:
    """Every named text of those modules (a str constant with a space), and each resource limit's words."""
    texts = {
        f"{module.__name__.rsplit('.', 1)[-1]}.{name}": value
        for module in MODULES
        for name, value in vars(module).items()
        if name.isupper() and isinstance(value, str) and " " in value.strip()
    }
    texts |= {f"limits.{limit.name}.hit": limit.hit for limit in limits.LIMITS}
    return {name: text for name, text in texts.items() if name not in NOT_SHOWN}


def sample_params(template: str) -> dict[str, object]:
    """Values for the template's placeholders, as a runner would give them."""
    numbers = {"d": 7, "i": 7, "g": 2.5, "f": 2.5}
    return {
        placeholder["name"]: SAMPLES.get(placeholder["name"]) or numbers.get(placeholder["conversion"], "x1")
        for placeholder in PLACEHOLDER.finditer(template)
    }


def filled(template: str) -> str:
    """`template` as a runner fills it, with sample values."""
    params = sample_params(template)
    return template % params if params else template


def in_portuguese(template: str) -> str:
    """How a Portuguese reader reads the text: as a run error (the table), else as a translated refusal."""
    text = filled(template)
    worded = error_part_text(text)
    if worded != text:
        return worded
    params = sample_params(template)
    return gettext(template) % params if params else gettext(template)


def english_left(text: str) -> set[str]:
    words = set(re.findall(r"[A-Za-z]+", re.sub(r"\{prompt\}|\$[A-Z_]+|[A-Z_]{3,}", " ", text)))
    return words & ENGLISH_WORDS


def test_the_walk_finds_the_texts_it_should():
    texts = project_texts()
    for name in ("command.EXITED", "argv_policy.PROMPT_AFTER_WRAPPER", "paths.PATH_HIDDEN", "reaper.WORKER_LOST"):
        assert name in texts
    assert len(texts) > 40


@pytest.mark.parametrize(("name", "template"), sorted(project_texts().items()))
def test_every_text_the_runners_write_reads_in_portuguese(name, template):
    with translation.override("pt-br"):
        portuguese = in_portuguese(template)
    assert portuguese != filled(template), f"{name} has no Portuguese: {portuguese!r}"
    assert not english_left(portuguese), f"{name} still has English in Portuguese: {portuguese!r}"


def test_a_cut_error_reads_in_portuguese_with_its_cut_marked():
    recorded = (command.EXITED % {"status": 2}) + services.ERROR_TRUNCATED
    with translation.override("pt-br"):
        assert run_error_text(recorded) == "saiu com status 2 [erro truncado]"


def test_a_limit_hit_reads_in_portuguese_both_halves():
    recorded = command.LIMIT_EXCEEDED % {
        "ended": command.KILLED % {"signal": "SIGXCPU"},
        "hit": limits.CPU.hit % {"value": 60},
    }
    with translation.override("pt-br"):
        assert run_error_text(recorded) == "foi encerrado por SIGXCPU: excedeu seu limite de tempo de CPU (60 s)"


def test_a_reason_of_the_projects_own_inside_another_text_is_worded_too():
    recorded = mode.SANDBOX_UNAVAILABLE % {"reason": bwrap.TOOL_MISSING % {"tool": "prlimit"}}
    with translation.override("pt-br"):
        worded = run_error_text(recorded)
    assert "prlimit (util-linux) não está instalado" in worded
    assert not english_left(worded)


@pytest.mark.parametrize("sandboxed", [False, True])
def test_a_program_that_cannot_start_reads_in_portuguese_the_systems_reason_too(sandboxed):
    recorded = command.COULD_NOT_START % {"program": "backup.sh", "reason": os.strerror(errno.ENOENT)}
    recorded += command.IN_THE_SANDBOX if sandboxed else ""
    with translation.override("pt-br"):
        worded = run_error_text(recorded)
    assert worded.startswith("não foi possível iniciar 'backup.sh': Arquivo ou diretório não encontrado")
    assert not english_left(worded), worded


def test_a_refused_argv_reads_in_the_admins_language_when_saved():
    from django.core.exceptions import ValidationError

    with translation.override("pt-br"), pytest.raises(ValidationError) as refused:
        command.CommandRunner.validate_config({"argv": ["sh", "-c", "{prompt}"]})
    message = refused.value.message_dict["runner_config"][0]
    assert message.startswith("{prompt}")
    assert not english_left(message), message


SCRIPT = """
import { runErrorText } from "./static/js/gamification/errors.js";
const [patterns, texts] = JSON.parse(process.argv[1]);
process.stdout.write(JSON.stringify(texts.map((text) => runErrorText(text, patterns))));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node runs the scripts' table (CI installs it)")
def test_the_scripts_word_every_text_as_the_server_does():
    texts = [filled(template) for template in project_texts().values()]
    texts += [(command.EXITED % {"status": 2}) + services.ERROR_TRUNCATED, "ValueError: boom"]
    with translation.override("pt-br"):
        patterns = run_error_patterns()
        server = [run_error_text(text) for text in texts]
    result = subprocess.run(
        ["node", "--input-type=module", "-e", SCRIPT, json.dumps([patterns, texts])],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert json.loads(result.stdout) == server
