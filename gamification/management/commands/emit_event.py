"""`manage.py emit_event <type> --data JSON`: send one event to every connected client."""

import json
import textwrap
from argparse import RawDescriptionHelpFormatter
from typing import Any, Literal, get_args, get_origin, get_type_hints

from django.core.management.base import CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from gamification.catalogue import CATALOGUE, EventType, InvalidEvent, validate_event
from gamification.events import emit
from infrastructure.commands import OperatorCommand, TranslatedHelpFormatter

BAD_JSON = gettext_noop(
    '--data is not valid JSON ({reason}); e.g. --data \'{{"level": "info", "message": "hi", "source": "ops"}}\'.'
)
NOT_BROADCAST = gettext_noop("{type!r} is a reply to one client and cannot be broadcast.")
# Listed too (the error for an unknown type names every type), marked as not for this command.
REPLY_ONLY = gettext_lazy(
    "not broadcast: the gateway sends it to the one client that asked; this command cannot emit it"
)
HELP_WIDTH = 100
FIELDS_INDENT = " " * 6
TYPES_HEADING = gettext_lazy(
    "event types and the fields of their --data (required, then [optional]; a|b: one of these values):"
)
EXAMPLE_HEADING = gettext_lazy("example:")
EXAMPLE = (
    "  manage.py emit_event system_alert \\\n"
    '      --data \'{"level": "warning", "message": "disk almost full", "source": "ops"}\''
)


class _HelpFormatter(TranslatedHelpFormatter, RawDescriptionHelpFormatter):
    """Django's order of options, "usage: " translated, and the epilog's lines kept as written."""


def _field_label(name: str, annotation: Any) -> str:
    """`name`, `name=a|b` for a choice of values, `name={x, y}` for an object with fields."""
    if get_origin(annotation) is Literal:
        return f"{name}={'|'.join(str(value) for value in get_args(annotation))}"
    if hasattr(annotation, "__required_keys__"):  # a TypedDict inside the data
        return f"{name}={{{', '.join(get_type_hints(annotation))}}}"
    return name


def event_fields_help(event: EventType) -> str:
    """One event type's fields in declaration order: the required ones, then the optional ones in brackets."""
    hints = get_type_hints(event.data)
    required = [_field_label(name, hint) for name, hint in hints.items() if name in event.required]
    optional = [_field_label(name, hint) for name, hint in hints.items() if name in event.optional]
    return ", ".join(required) + (f" [{', '.join(optional)}]" if optional else "")


def catalogue_help() -> str:
    """The --help epilog: each type that can be emitted, what it means and its fields (gamification.catalogue)."""
    lines = [str(TYPES_HEADING)]
    for event in CATALOGUE.values():
        fields = textwrap.fill(
            event_fields_help(event), HELP_WIDTH, initial_indent=FIELDS_INDENT, subsequent_indent=FIELDS_INDENT
        )
        summary = event.summary if event.broadcast else f"{event.summary} ({REPLY_ONLY})"
        lines += [f"  {event.name}: {summary}", fields]
    return "\n".join([*lines, "", str(EXAMPLE_HEADING), EXAMPLE])


class Command(OperatorCommand):
    # Lazy, so that --help speaks the shell's language (OperatorCommand activates it before parsing).
    help = gettext_lazy(  # type: ignore[assignment]
        "Emit a catalogue event (e.g. system_alert) to every WebSocket client; the data is validated first."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.epilog = catalogue_help()
        parser.formatter_class = _HelpFormatter
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        names = [name for name, event in CATALOGUE.items() if event.broadcast]
        parser.add_argument(
            "event_type", help=_("one of: %(types)s (fields below)") % {"types": ", ".join(sorted(names))}
        )
        parser.add_argument("--data", default="{}", help=_("the event's data as a JSON object"))

    def handle(self, *args: Any, event_type: str, data: str, **options: Any) -> None:
        try:
            payload = json.loads(data)
        except json.JSONDecodeError as exc:
            raise CommandError(_(BAD_JSON).format(reason=exc)) from None
        try:
            event = validate_event(event_type, payload)
        except InvalidEvent as exc:
            raise CommandError(str(exc)) from None
        if not event.broadcast:
            raise CommandError(_(NOT_BROADCAST).format(type=event_type))
        envelope = emit(event_type, payload)
        emitted = _("Emitted %(type)s at %(timestamp).3f.") % {"type": event_type, "timestamp": envelope["timestamp"]}
        self.stdout.write(self.style.SUCCESS(emitted))
