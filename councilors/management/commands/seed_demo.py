"""`manage.py seed_demo`: create the demo agents and councilors that are missing (safe to run again)."""

from django.core.management.base import BaseCommand

from councilors.demo import demo_seed


class Command(BaseCommand):
    help = (
        "Create demo agents and councilors (a heartbeat every minute, a passing, a warning and a failing check); "
        "idempotent."
    )

    def handle(self, *args, **options) -> None:
        for agent_id, created in demo_seed():
            self.stdout.write(f"{'created' if created else 'exists '}  {agent_id}")
