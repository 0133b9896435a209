"""An index on django-q2's `Schedule.next_run`, which django-q2 leaves unindexed.

Every tick of every cluster asks whether a schedule is due (`due_schedules_exist`, then django-q2's
own pass): `next_run < now` over all schedules. Without an index that is a scan of the whole table,
so a quiet tick cost grows with the number of councilors (in the ticking process itself on SQLite,
in the database server on PostgreSQL); with it, finding that nothing is due is one index probe.

The table is django-q2's, so the index is added through the schema editor (the right SQL for each
database) and is not part of any model's state: `makemigrations` has nothing to say about it.
"""

from django.db import migrations, models

INDEX = models.Index(fields=["next_run"], name="cq_schedule_next_run_idx")


def add_index(apps, schema_editor):
    schema_editor.add_index(apps.get_model("django_q", "Schedule"), INDEX)


def remove_index(apps, schema_editor):
    schema_editor.remove_index(apps.get_model("django_q", "Schedule"), INDEX)


class Migration(migrations.Migration):
    dependencies = [
        ("councilors", "0008_labels"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(add_index, remove_index)]
