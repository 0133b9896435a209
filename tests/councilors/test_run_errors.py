"""A run's error in the reader's language (councilors/run_errors.py): every error text a runner
records in English is recognised and worded in Portuguese; anything else is shown as recorded."""

import pytest
from django.utils import translation

from councilors.run_errors import run_error_patterns, run_error_text
from councilors.runners.base import CANCELLED, TIMED_OUT
from councilors.runners.http import REDIRECT_REFUSED, RESPONSE_TOO_LARGE, TOO_MANY_REDIRECTS
from councilors.runners.python import CALLABLE_INVALID, CALLABLE_NOT_ALLOWED, CANNOT_IMPORT

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
