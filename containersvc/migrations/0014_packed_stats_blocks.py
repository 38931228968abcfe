"""Closed buckets packed a block a row once their time is past: a day of a container's history is read as a few
dozen values instead of thousands of rows."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('containersvc', '0013_stats_history_covering_index'),
    ]

    operations = [
        migrations.CreateModel(
            name='ContainerStatsBlock',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('resolution', models.PositiveIntegerField(help_text='Bucket length in seconds.')),
                ('block_start', models.DateTimeField(help_text="Where the block's time begins; it lasts BLOCK_BUCKETS buckets.")),
                ('buckets', models.PositiveIntegerField(help_text='Buckets packed in it.')),
                ('packed', models.BinaryField(help_text='The buckets as fixed-size records, oldest first (stats_blocks.RECORD).')),
                ('container', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='stats_blocks', to='containersvc.container')),
            ],
            options={
                'ordering': ['block_start', 'id'],
                'indexes': [models.Index(fields=['resolution', 'block_start'], name='stats_block_retention_idx')],
                'constraints': [models.UniqueConstraint(fields=('container', 'resolution', 'block_start'), name='stats_block_unique')],
            },
        ),
    ]
