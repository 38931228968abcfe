"""A day of one container's buckets read from one covering index (every column a history read takes), which
replaces the (container, resolution, bucket_start) index and the foreign key's own: the new one begins with both."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("containersvc", "0012_producer_leases"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="containerstatssample",
            name="containersv_contain_06e30e_idx",
        ),
        migrations.AlterField(
            model_name="containerstatssample",
            name="container",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="stats_samples",
                to="containersvc.container",
            ),
        ),
        migrations.AddIndex(
            model_name="containerstatssample",
            index=models.Index(
                fields=[
                    "container",
                    "resolution",
                    "bucket_start",
                    "samples",
                    "cpu_mean",
                    "cpu_max",
                    "mem_mean",
                    "mem_max",
                    "mem_limit",
                    "net_rx_rate",
                    "net_tx_rate",
                    "blk_read_rate",
                    "blk_write_rate",
                    "pids",
                ],
                name="stats_sample_history_idx",
            ),
        ),
    ]
