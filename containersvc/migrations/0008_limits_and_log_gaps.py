from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("containersvc", "0007_container_stats_samples")]

    operations = [
        migrations.AddField(
            model_name="container",
            name="nano_cpus",
            field=models.BigIntegerField(default=0, help_text="CPU limit in billionths of a CPU; 0: none."),
        ),
        migrations.AddField(
            model_name="container",
            name="pids_limit",
            field=models.IntegerField(default=0, help_text="Most processes; 0: no limit."),
        ),
        migrations.AddField(
            model_name="logchunk",
            name="gap",
            field=models.BooleanField(default=False),
        ),
    ]
