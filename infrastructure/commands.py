"""What the project's management commands share: the operator's language, and quiet logs.

A one-shot command prints its result and nothing else: the INFO lines of the libraries it wakes up
(the event publisher saying which path it takes, django-q2's "Enqueued [conductor] 13") are for the
long-running processes' logs, and come back with `-v 2`. The command speaks the language of the
shell it runs in (LC_ALL, LC_MESSAGES or LANG, as gettext reads them) when the project has it,
else the site's default (settings.LANGUAGE_CODE).
"""

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import translation

LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")
# Loggers with handlers of their own (they do not propagate to the root): quieted too.
OWN_HANDLER_LOGGERS = ("django-q",)
VERBOSE = 2


def shell_language(environ: os._Environ | dict[str, str] = os.environ) -> str:
    """The project language the shell's locale names (`pt_BR.UTF-8` → `pt-br`), else LANGUAGE_CODE."""
    for variable in LOCALE_VARIABLES:
        value = environ.get(variable, "")
        if not value:
            continue
        locale = value.split(".", 1)[0].split("@", 1)[0]
        if locale in ("C", "POSIX"):
            break
        try:
            return translation.get_supported_language_variant(translation.to_language(locale))
        except LookupError:
            break
    return settings.LANGUAGE_CODE


@contextmanager
def quiet_logs(verbosity: int) -> Iterator[None]:
    """Below `-v 2`, only warnings and errors reach the console while the command runs."""
    if verbosity >= VERBOSE:
        yield
        return
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in OWN_HANDLER_LOGGERS)]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(max(logger.level, logging.WARNING))
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


class OperatorCommand(BaseCommand):
    """A command an operator types: in the shell's language, without the libraries' INFO lines."""

    def run_from_argv(self, argv: list[str]) -> None:
        # Parsing happens here (before execute): --help and argument errors in the same language.
        with translation.override(shell_language()):
            super().run_from_argv(argv)

    def execute(self, *args: Any, **options: Any) -> Any:
        # Called from code too (call_command): the shell's language, not whatever a request left active.
        with translation.override(shell_language()), quiet_logs(int(options.get("verbosity", 1))):
            return super().execute(*args, **options)
