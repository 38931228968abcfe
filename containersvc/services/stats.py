"""Stored resource history: closed buckets written in one batch, and pruned by retention."""

from dataclasses import dataclass, fields
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction

from containersvc.models import ContainerStatsSample
from containersvc.stats import Bucket, cutoff


@dataclass(frozen=True, slots=True)
class Retention:
    bucket_seconds: int
    keep_seconds: int


def stats_retentions() -> tuple[Retention, ...]:
    """The stored resolutions, finest first."""
    return (
        Retention(settings.CONTAINERSVC_STATS_FINE_BUCKET_SECONDS, settings.CONTAINERSVC_STATS_FINE_RETENTION_SECONDS),
        Retention(
            settings.CONTAINERSVC_STATS_COARSE_BUCKET_SECONDS, settings.CONTAINERSVC_STATS_COARSE_RETENTION_SECONDS
        ),
    )


# Bucket attributes stored under another column name; every other attribute is a column of the same name.
_COLUMN_OF = {"start": "bucket_start", "seconds": "resolution"}
_ATTRIBUTES = tuple(field.name for field in fields(Bucket))


def stats_columns(attributes: tuple[str, ...]) -> tuple[str, ...]:
    """The columns that store these Bucket attributes, in their order (to read rows as tuples)."""
    return tuple(_COLUMN_OF.get(name, name) for name in attributes)


def stats_bucket_of_row(row: ContainerStatsSample) -> Bucket:
    """The bucket a stored row holds."""
    values = {name: getattr(row, _COLUMN_OF.get(name, name)) for name in _ATTRIBUTES}
    values["mem_mean"] = float(row.mem_mean)
    return Bucket(**values)


# A bucket's row: its container's pk, then the columns of the bucket's attributes.
_INSERTED = ("container_id", *stats_columns(_ATTRIBUTES))
_MEM_MEAN, _START = _INSERTED.index("mem_mean"), _INSERTED.index("bucket_start")


def _row_values(container_pk: int, bucket: Bucket) -> list:
    """The values of a bucket's row, in _INSERTED's order; memory's mean is kept in whole bytes."""
    values = [container_pk, *(getattr(bucket, name) for name in _ATTRIBUTES)]
    values[_MEM_MEAN] = round(bucket.mem_mean)
    return values


def stats_row_of_bucket(*, container_pk: int, bucket: Bucket) -> ContainerStatsSample:
    """The row that stores one bucket (unsaved), as stats_store_buckets() writes it."""
    return ContainerStatsSample(**dict(zip(_INSERTED, _row_values(container_pk, bucket), strict=True)))


def stats_store_buckets(*, buckets: list[tuple[int, Bucket]]) -> int:
    """Closed buckets as (container row pk, bucket), in one multi-row insert (or as few as the database's limit on
    a statement's parameters allows: SQLite takes 71 rows of these). Written out rather than through
    bulk_create, which compiles each value of each row through its model field: at hundreds of containers that
    cost the stats collector more than reading their counters."""
    if not buckets:
        return 0
    rows = [_row_values(container_pk, bucket) for container_pk, bucket in buckets]
    for row in rows:
        row[_START] = connection.ops.adapt_datetimefield_value(row[_START])
    table = connection.ops.quote_name(ContainerStatsSample._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(column) for column in _INSERTED)
    placeholders = f"({', '.join(['%s'] * len(_INSERTED))})"
    per_statement = max(1, connection.ops.bulk_batch_size(list(_INSERTED), rows))
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        for first in range(0, len(rows), per_statement):
            batch = rows[first : first + per_statement]
            values = ", ".join([placeholders] * len(batch))
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {values}",  # noqa: S608 - names from the model, values bound
                [value for row in batch for value in row],
            )
    return len(rows)


def stats_prune(*, now: datetime) -> int:
    """Delete this node's buckets older than their resolution's retention; returns how many went."""
    deleted = 0
    for retention in stats_retentions():
        count, _ = ContainerStatsSample.objects.filter(
            container__node_id=settings.CONTAINERSVC_NODE_ID,
            resolution=retention.bucket_seconds,
            bucket_start__lt=cutoff(now=now, seconds=retention.keep_seconds),
        ).delete()
        deleted += count
    return deleted
