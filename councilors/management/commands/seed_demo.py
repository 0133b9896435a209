"""`manage.py seed_demo`: create the demo agents and councilors that are missing (safe to run again)."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from councilors.demo import demo_seed
from infrastructure.commands import OperatorCommand


class Command(OperatorCommand):
    help = gettext_lazy(
        "Create demo agents and councilors (a heartbeat every minute, a passing, a warning and a failing check); "
        "idempotent."
    )

    def handle(self, *args, **options) -> None:
        for agent_id, created in demo_seed():
            what = _("created") if created else _("exists")
            self.stdout.write(f"{what:<8} {agent_id}")
