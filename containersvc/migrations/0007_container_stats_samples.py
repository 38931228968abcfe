import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("containersvc", "0006_throttle_cache_table"),
    ]

    operations = [
        migrations.CreateModel(
            name="ContainerStatsSample",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("resolution", models.PositiveIntegerField(help_text="Bucket length in seconds.")),
                ("bucket_start", models.DateTimeField()),
                ("samples", models.PositiveIntegerField(default=1, help_text="Samples the bucket summarises.")),
                ("cpu_mean", models.FloatField(help_text="CPU %, 100 is one core.")),
                ("cpu_max", models.FloatField()),
                ("mem_mean", models.BigIntegerField(help_text="Bytes, without inactive page cache (as docker stats).")),
                ("mem_max", models.BigIntegerField()),
                ("mem_limit", models.BigIntegerField()),
                ("net_rx_rate", models.FloatField(help_text="Bytes per second.")),
                ("net_tx_rate", models.FloatField()),
                ("blk_read_rate", models.FloatField()),
                ("blk_write_rate", models.FloatField()),
                ("pids", models.PositiveIntegerField(help_text="The most at once in the bucket.")),
                (
                    "container",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="stats_samples",
                        to="containersvc.container",
                    ),
                ),
            ],
            options={
                "ordering": ["bucket_start", "id"],
                "indexes": [
                    models.Index(
                        fields=["container", "resolution", "bucket_start"], name="containersv_contain_06e30e_idx"
                    ),
                    models.Index(fields=["resolution", "bucket_start"], name="stats_sample_retention_idx"),
                ],
            },
        ),
    ]
