"""`manage.py run_cluster`: django-q2's cluster, plus Conductor's loop in its otherwise idle main process.

What `make run` starts and deployments run (docs/scheduling.md): the cluster as django-q2's own
`qcluster` command starts it (same options, it is that command's subclass), then, in the command's
main process, the loop of councilors/cluster_loop.py: due schedules within a tick, runs of dead
workers closed, schedules repaired. django-q2's `qcluster` is left as it is (no app shadows it):
it still runs a cluster, with django-q2's own scheduling pass and without that loop.
`--tick 0` gives stock django-q2 scheduling (one pass about every 30 s), for comparison.
"""

import os

from django.conf import settings
from django.utils.translation import gettext_lazy
from django_q.cluster import Cluster
from django_q.management.commands.qcluster import Command as QClusterCommand

from councilors.app_settings import app_settings
from councilors.cluster_loop import ClusterLoop
from councilors.runners.sandbox import worker_startup
from infrastructure.commands import ShellLanguageCommand

# django-q2's own options, worded here: its catalogue has no Portuguese, and these are not marked.
QCLUSTER_HELP = {
    "run_once": gettext_lazy("Run once and then stop."),
    "cluster_name": gettext_lazy(
        "Set alternative cluster name instead of the name in Q_CLUSTER settings (for multi-queue setup). "
        "On Linux you should set name through `Q_CLUSTER_NAME=cluster_name python manage.py qcluster` instead."
    ),
}


# The shell's language for --help only (see run_language).
class Command(ShellLanguageCommand, QClusterCommand):
    help = gettext_lazy(
        "Starts a django-q2 cluster that also runs due schedules within a tick and closes runs of dead workers."
    )

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        for action in parser._actions:  # argparse's list of options; see infrastructure/commands.py
            if action.dest in QCLUSTER_HELP:
                action.help = str(QCLUSTER_HELP[action.dest])
        parser.add_argument(
            "--tick",
            type=float,
            default=None,
            help=gettext_lazy(
                "Seconds between scheduler passes (default COUNCILORS_SCHEDULER_TICK_S; 0 = stock django-q2)."
            ),
        )

    def run_language(self) -> str:
        # What a cluster writes (records, events, e-mails) is for every reader, not for this shell.
        return settings.LANGUAGE_CODE

    def handle(self, *args, **options) -> None:
        settings.SECRET_KEY  # noqa: B018 - as django-q2 does: signing needs it, fail early
        if options.get("cluster_name"):
            os.environ["Q_CLUSTER_NAME"] = options["cluster_name"]
        tick = app_settings.SCHEDULER_TICK_S if options["tick"] is None else options["tick"]
        worker_startup()  # where command runs execute; scratch left by dead workers removed
        cluster = Cluster()
        cluster.start()
        if options.get("run_once"):
            cluster.stop()
            return
        ClusterLoop(cluster=cluster, tick=tick).run()
