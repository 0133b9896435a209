"""`manage.py pause_councilor <id>`: stop a councilor's scheduled runs and tell everyone watching."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from councilors.management.lookup import add_by_argument, command_actor, councilor_or_error
from councilors.services import councilor_pause
from infrastructure.commands import OperatorCommand


class Command(OperatorCommand):
    help = gettext_lazy("Pause a councilor (no scheduled runs until it is resumed); broadcasts councilor_paused.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("councilor_id", help=gettext_lazy("the councilor's id (its agent's agent_id)"))
        add_by_argument(parser, verb="paused")

    def handle(self, *args, councilor_id: str, by: str, **options) -> None:
        actor = command_actor(by)
        councilor = councilor_pause(councilor=councilor_or_error(councilor_id), actor=actor)
        self.stdout.write(
            self.style.SUCCESS(
                _("Paused %(id)s (%(title)s).") % {"id": councilor.councilor_id, "title": councilor.title}
            )
        )
