"""`manage.py check_workers [--watch SECONDS]`: is any django-q2 cluster alive? Alerts when none is for a while.

One-shot it prints the number of live clusters and exits 1 when there is none (for cron, systemd
timers and health probes); with --watch it keeps checking (run it that way beside the gateway, e.g. in the Procfile).
Either way a critical `system_alert` goes out once COUNCILORS_WORKER_ALERT_AFTER_S has passed
without a cluster heartbeat, once per outage, shared between every watcher.
"""

import signal
import sys
import time

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop, ngettext

from councilors.notifications import workers_watchdog_check
from infrastructure.commands import ShellLanguageCommand

NONE_ALIVE = gettext_noop("no worker cluster is alive")
BAD_WATCH = gettext_noop("--watch needs a positive number of seconds")


# In the shell's language, but not quieted as one-shot commands are: a watcher's log lines are its output.
class Command(ShellLanguageCommand):
    help = gettext_lazy(
        "Report live django-q2 clusters; raise a critical system_alert when none has been seen for a while."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--watch", type=float, metavar=_("SECONDS"), help=gettext_lazy("check every SECONDS until stopped")
        )

    def handle(self, *args, watch: float | None = None, **options) -> None:
        if watch is not None and watch <= 0:
            raise CommandError(_(BAD_WATCH))
        if watch is None:
            alive = workers_watchdog_check(now=time.time())
            if not alive:
                raise CommandError(_(NONE_ALIVE))
            self.stdout.write(
                ngettext("%(count)d worker cluster alive", "%(count)d worker clusters alive", alive) % {"count": alive}
            )
            return
        # Stopping a watcher (Ctrl+C, or a supervisor's SIGTERM) is its normal end, not a failure.
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
        try:
            while True:
                workers_watchdog_check(now=time.time())
                time.sleep(watch)
        except KeyboardInterrupt:
            return
