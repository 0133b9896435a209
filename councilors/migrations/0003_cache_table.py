"""The database cache table django-q2 keeps cluster heartbeats in (CACHES["q"]).

A migration rather than a separate `createcachetable` step, so that every database that is
migrated (the test databases included) has it; createcachetable skips a table that exists.
"""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("councilors", "0002_scheduling")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
