"""The one signal receiver of this app, and why it is one.

A councilor is also deleted without going through `councilor_delete`: deleting its agent cascades
to it (admin, shell, bulk deletes), and Django runs no service for cascaded rows. The schedule must
go with it whatever the path, or django-q2 would keep queueing runs of a councilor that is gone.
"""

from django.db.models.signals import post_delete
from django.dispatch import receiver
from django_q.models import Schedule

from councilors.models import Councilor


@receiver(post_delete, sender=Councilor, dispatch_uid="councilors.delete_schedule")
def delete_schedule_with_councilor(sender, instance: Councilor, **kwargs) -> None:
    if instance.q_schedule_id is not None:
        Schedule.objects.filter(pk=instance.q_schedule_id).delete()
