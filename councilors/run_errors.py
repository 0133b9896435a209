"""A run's error in the reader's language, at the point of display.

Runners and the run service record an error as English text in `Execution.error` (the worker that
writes it has no reader, so no language). The pages, the admin and the commands show it through
`run_error_text`, which recognizes the texts the project itself writes (councilors/runners/,
councilors/reaper.py, councilors/services.py) and words them in the active language; anything else
(a program's own message, an exception's text) is shown as recorded. The same table reaches the
scripts (`runErrorPatterns`, rendered into each page's config) so live events read the same.

A new error text written by a runner gets a line here (and its translation).
"""

import re
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy


@dataclass(frozen=True)
class ErrorText:
    pattern: re.Pattern[str]
    message: Promise  # with %(name)s for each named group of the pattern


ERROR_TEXTS = (
    ErrorText(re.compile(r"^exited with status (?P<status>-?\d+)$"), gettext_lazy("exited with status %(status)s")),
    ErrorText(re.compile(r"^timed out after (?P<seconds>[\d.]+)s$"), gettext_lazy("timed out after %(seconds)s s")),
    ErrorText(re.compile(r"^cancelled$"), gettext_lazy("cancelled")),
    ErrorText(re.compile(r"^worker lost$"), gettext_lazy("worker lost (its process ended during the run)")),
    ErrorText(
        re.compile(r"^could not start (?P<program>.+?): (?P<reason>.+)$"),
        gettext_lazy("could not start %(program)s: %(reason)s"),
    ),
    ErrorText(re.compile(r"^HTTP (?P<status>\d{3}) from (?P<url>\S+)$"), gettext_lazy("HTTP %(status)s from %(url)s")),
    ErrorText(
        re.compile(r"^request to (?P<url>\S+) failed: (?P<reason>.+)$"),
        gettext_lazy("request to %(url)s failed: %(reason)s"),
    ),
    ErrorText(
        re.compile(r"^database connection lost while the run was in flight: (?P<error>.+)$", re.DOTALL),
        gettext_lazy("database connection lost while the run was in flight: %(error)s"),
    ),
    # councilors/runners/http.py
    ErrorText(
        re.compile(r"^redirect from (?P<origin>\S+) to another origin \((?P<target>\S+)\) refused$"),
        gettext_lazy("redirect from %(origin)s to another origin (%(target)s) refused"),
    ),
    ErrorText(
        re.compile(r"^more than (?P<limit>\d+) redirects from (?P<url>\S+)$"),
        gettext_lazy("more than %(limit)s redirects from %(url)s"),
    ),
    ErrorText(
        re.compile(
            r"^response from (?P<url>\S+) is larger than (?P<limit>\d+) bytes \(COUNCILORS_HTTP_MAX_RESPONSE_BYTES\)$"
        ),
        gettext_lazy("response from %(url)s is larger than %(limit)s bytes (COUNCILORS_HTTP_MAX_RESPONSE_BYTES)"),
    ),
    # councilors/runners/python.py (a callable refused at run time: the settings changed since it was saved)
    ErrorText(
        re.compile(
            r"^callable (?P<path>'[^']*') is not in a module listed in COUNCILORS_PYTHON_RUNNER_MODULES "
            r"\(now: (?P<allowed>.*)\); an admin of the server adds the module \(or its package\) to that setting\.$"
        ),
        gettext_lazy(
            "callable %(path)s is not in a module listed in COUNCILORS_PYTHON_RUNNER_MODULES (now: %(allowed)s); "
            "an admin of the server adds the module (or its package) to that setting."
        ),
    ),
    ErrorText(
        re.compile(r"^callable must be a dotted path to a function, e\.g\. \"myapp\.agents\.review\"\.$"),
        gettext_lazy('callable must be a dotted path to a function, e.g. "myapp.agents.review".'),
    ),
    ErrorText(
        re.compile(r"^cannot import (?P<path>'[^']*'): (?P<reason>.+)$", re.DOTALL),
        gettext_lazy("cannot import %(path)s: %(reason)s"),
    ),
)


def run_error_text(error: str | None) -> str:
    """`error` in the active language when it is one of the project's own texts, else as recorded."""
    if not error:
        return ""
    for known in ERROR_TEXTS:
        match = known.pattern.match(error)
        if match:
            return str(known.message) % match.groupdict()
    return error


def run_error_patterns() -> list[dict[str, str]]:
    """The table for the pages' scripts: each pattern (JavaScript syntax) and its message, translated."""
    return [
        {
            "pattern": known.pattern.pattern.replace("(?P<", "(?<"),
            "flags": "s" if known.pattern.flags & re.DOTALL else "",
            "message": str(known.message),
        }
        for known in ERROR_TEXTS
    ]
