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
from django.core.management.base import BaseCommand, CommandParser, DjangoHelpFormatter
from django.utils import translation
from django.utils.translation import gettext, gettext_noop

LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")
# What every command's --help holds besides its own: argparse's headings and its -h, Django's base
# options. Neither library marks them for translation; their exact English words are the msgids here.
USAGE_PREFIX = gettext_noop("usage: ")
SECTION_TITLES = (gettext_noop("positional arguments"), gettext_noop("options"))
STANDARD_HELP = frozenset(
    {
        gettext_noop("show this help message and exit"),
        gettext_noop("Show program's version number and exit."),
        gettext_noop("Verbosity level; 0=minimal output, 1=normal output, 2=verbose output, 3=very verbose output"),
        gettext_noop(
            'The Python path to a settings module, e.g. "myproject.settings.main". If this isn\'t provided, '
            "the DJANGO_SETTINGS_MODULE environment variable will be used."
        ),
        gettext_noop('A directory to add to the Python path, e.g. "/home/djangoprojects/myproject".'),
        gettext_noop("Display a full stack trace on CommandError exceptions."),
        gettext_noop("Don't colorize the command output."),
        gettext_noop("Force colorization of the command output."),
        gettext_noop("Skip system checks."),
    }
)
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


class TranslatedHelpFormatter(DjangoHelpFormatter):
    """Django's order of options, with argparse's "usage: " in the active language."""

    def add_usage(self, usage: Any, actions: Any, groups: Any, prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups, gettext(USAGE_PREFIX) if prefix is None else prefix)


def translate_parser(parser: CommandParser) -> None:
    """Word the parts of --help that argparse and Django add, and the command's lazy texts, in the active language.

    argparse keeps its actions and groups in `_actions`, `_positionals` and `_optionals` (stable since
    Python 3.2, and what its own formatter reads); nothing public reaches them once the parser exists.
    """
    if parser.description is not None:
        # A lazy `help` reaches argparse as a proxy, which its formatter cannot wrap (re.sub's TypeError).
        parser.description = str(parser.description)
    for action in parser._actions:
        if isinstance(action.help, str) and action.help in STANDARD_HELP:
            action.help = gettext(action.help)
    for group in (parser._positionals, parser._optionals):
        if group.title in SECTION_TITLES:
            group.title = gettext(group.title)


class ShellLanguageCommand(BaseCommand):
    """A command in the shell's language: its --help, its argument errors and what it prints."""

    def run_from_argv(self, argv: list[str]) -> None:
        # Parsing happens here (before execute): --help and argument errors in the same language.
        with translation.override(shell_language()):
            super().run_from_argv(argv)

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        kwargs.setdefault("formatter_class", TranslatedHelpFormatter)
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        translate_parser(parser)  # in the language active while parsing (run_from_argv's)
        return parser

    def execute(self, *args: Any, **options: Any) -> Any:
        # Called from code too (call_command): the shell's language, not whatever a request left active.
        with translation.override(self.run_language()):
            return super().execute(*args, **options)

    def run_language(self) -> str:
        """The language the command runs in once its arguments are parsed: the shell's."""
        return shell_language()


class OperatorCommand(ShellLanguageCommand):
    """A one-shot command an operator types: in the shell's language, without the libraries' INFO lines."""

    def execute(self, *args: Any, **options: Any) -> Any:
        with quiet_logs(int(options.get("verbosity", 1))):
            return super().execute(*args, **options)
