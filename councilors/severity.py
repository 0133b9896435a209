"""Severity of a finished run, from whether it failed and the words in its output."""

ERROR_WORDS = ("crítico", "erro", "falha", "failed", "error", "critical", "fatal", "exception")
WARNING_WORDS = ("alerta", "atenção", "warning", "aviso", "vulnerab", "deprecated", "caution")


def analyze_severity(*, output: str, failed: bool) -> str:
    """`error` if the run failed or mentions an error word, else `warning` for a warning word, else `success`."""
    text = (output or "").casefold()
    if failed or any(word in text for word in ERROR_WORDS):
        return "error"
    if any(word in text for word in WARNING_WORDS):
        return "warning"
    return "success"
