"""`manage.py emit_event <type> --data JSON`: send one event to every connected client."""

import json

from django.core.management.base import BaseCommand, CommandError

from gamification.catalogue import CATALOGUE, InvalidEvent, validate_event
from gamification.events import emit

BAD_JSON = '--data is not valid JSON ({reason}); e.g. --data \'{{"level": "info", "message": "hi", "source": "ops"}}\'.'
NOT_BROADCAST = "{type!r} is a reply to one client and cannot be broadcast."


class Command(BaseCommand):
    help = "Emit a catalogue event (e.g. system_alert) to every WebSocket client; the data is validated first."

    def add_arguments(self, parser) -> None:
        parser.add_argument("event_type", help=f"one of: {', '.join(sorted(CATALOGUE))}")
        parser.add_argument("--data", default="{}", help="the event's data as a JSON object")

    def handle(self, *args, event_type: str, data: str, **options) -> None:
        try:
            payload = json.loads(data)
        except json.JSONDecodeError as exc:
            raise CommandError(BAD_JSON.format(reason=exc)) from None
        try:
            event = validate_event(event_type, payload)
        except InvalidEvent as exc:
            raise CommandError(str(exc)) from None
        if not event.broadcast:
            raise CommandError(NOT_BROADCAST.format(type=event_type))
        envelope = emit(event_type, payload)
        self.stdout.write(self.style.SUCCESS(f"Emitted {event_type} at {envelope['timestamp']:.3f}."))
