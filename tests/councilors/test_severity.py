"""Severity rules (councilors/severity.py): failed wins, then error words, then warning words, case-insensitively."""

import pytest

from councilors.severity import ERROR_WORDS, WARNING_WORDS, analyze_severity


def test_the_word_lists_are_the_specs():
    assert set(ERROR_WORDS) == {"crítico", "erro", "falha", "failed", "error", "critical", "fatal", "exception"}
    assert set(WARNING_WORDS) == {"alerta", "atenção", "warning", "aviso", "vulnerab", "deprecated", "caution"}


@pytest.mark.parametrize("word", ERROR_WORDS)
def test_each_error_word_makes_an_error(word):
    assert analyze_severity(output=f"scan done: {word} in module x", failed=False) == "error"


@pytest.mark.parametrize("word", WARNING_WORDS)
def test_each_warning_word_makes_a_warning(word):
    assert analyze_severity(output=f"scan done: {word} in module x", failed=False) == "warning"


@pytest.mark.parametrize(
    "output", ["FATAL: disk gone", "Critical path", "CRÍTICO", "Falha na rede", "Unhandled Exception", "ERRO"]
)
def test_error_words_are_case_insensitive(output):
    assert analyze_severity(output=output, failed=False) == "error"


@pytest.mark.parametrize("output", ["WARNING: low disk", "Deprecated API", "ATENÇÃO", "Vulnerability CVE-1", "AVISO"])
def test_warning_words_are_case_insensitive(output):
    assert analyze_severity(output=output, failed=False) == "warning"


def test_an_error_word_beats_a_warning_word():
    assert analyze_severity(output="warning: deprecated; then a fatal crash", failed=False) == "error"


@pytest.mark.parametrize("output", ["all good", "", "Python 3.11.7"])
def test_a_failed_run_is_an_error_whatever_it_printed(output):
    assert analyze_severity(output=output, failed=True) == "error"


@pytest.mark.parametrize("output", ["all good", "", "Python 3.11.7\n", "12 checks passed"])
def test_clean_output_is_a_success(output):
    assert analyze_severity(output=output, failed=False) == "success"


def test_words_match_inside_longer_words():
    # "vulnerab" is a stem on purpose: vulnerable, vulnerability, vulnerabilidade.
    assert analyze_severity(output="3 vulnerabilidades", failed=False) == "warning"
    assert analyze_severity(output="Errors: 0", failed=False) == "error"
