"""The database cache's table that throttling counts in, so that `migrate` alone makes it (settings.CACHES)."""

from django.core.management import call_command
from django.db import migrations

TABLE = "containersvc_throttle_cache"


def create_table(apps, schema_editor) -> None:
    call_command("createcachetable", TABLE, database=schema_editor.connection.alias, verbosity=0)


def drop_table(apps, schema_editor) -> None:
    schema_editor.execute(f"DROP TABLE IF EXISTS {schema_editor.quote_name(TABLE)}")


class Migration(migrations.Migration):
    dependencies = [("containersvc", "0005_setup_token")]

    operations = [migrations.RunPython(create_table, drop_table)]
