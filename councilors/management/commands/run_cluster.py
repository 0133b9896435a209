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
from django_q.cluster import Cluster
from django_q.management.commands.qcluster import Command as QClusterCommand

from councilors.app_settings import app_settings
from councilors.cluster_loop import ClusterLoop
from councilors.runners.sandbox import worker_startup


class Command(QClusterCommand):
    help = "Starts a django-q2 cluster that also runs due schedules within a tick and closes runs of dead workers."

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--tick",
            type=float,
            default=None,
            help="Seconds between scheduler passes (default COUNCILORS_SCHEDULER_TICK_S; 0 = stock django-q2).",
        )

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
