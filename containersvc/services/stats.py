"""Stored resource history: closed buckets written in one batch, and pruned by retention."""

from dataclasses import dataclass, fields
from datetime import datetime

from django.conf import settings

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


def stats_row_of_bucket(*, container_pk: int, bucket: Bucket) -> ContainerStatsSample:
    """The row that stores one bucket (unsaved); memory's mean is kept in whole bytes."""
    values = {_COLUMN_OF.get(name, name): getattr(bucket, name) for name in _ATTRIBUTES}
    values["mem_mean"] = round(bucket.mem_mean)
    return ContainerStatsSample(container_id=container_pk, **values)


def stats_bucket_of_row(row: ContainerStatsSample) -> Bucket:
    """The bucket a stored row holds."""
    values = {name: getattr(row, _COLUMN_OF.get(name, name)) for name in _ATTRIBUTES}
    values["mem_mean"] = float(row.mem_mean)
    return Bucket(**values)


def stats_store_buckets(*, buckets: list[tuple[int, Bucket]]) -> int:
    """Closed buckets as (container row pk, bucket), in one insert."""
    rows = [stats_row_of_bucket(container_pk=container_pk, bucket=bucket) for container_pk, bucket in buckets]
    if rows:
        ContainerStatsSample.objects.bulk_create(rows)
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
