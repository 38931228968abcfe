"""Stored resource history: closed buckets written in one batch, packed into blocks once their time is past,
and pruned by retention."""

from collections import defaultdict
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Func, IntegerField, QuerySet

from containersvc.models import ContainerStatsBlock, ContainerStatsSample
from containersvc.stats import Bucket, cutoff
from containersvc.stats_blocks import (
    block_seconds,
    block_start_of,
    merged_points,
    pack_points,
    points_between,
    unpack_points,
)
from containersvc.stats_points import POINT_FIGURES, StatsPoint

# A block is packed this long after its end, when its last bucket closed (the collector writes a bucket as it
# closes). A pass packs one block of this many containers at most, the oldest first: the hour's blocks of a node
# of hundreds of containers are packed over a few passes, and a backlog (rows stored before blocks existed, or
# while no collector packed) over many, rather than holding up a collector round for seconds.
PACK_DELAY_SECONDS = 60
PACK_CONTAINERS = 50


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


class EpochSeconds(Func):
    """A datetime column as whole seconds since the epoch, worked out by the database: parsing a day of
    buckets' datetimes in Python took as long as reading the rest of their columns."""

    output_field = IntegerField()
    template = "CAST(FLOOR(EXTRACT(EPOCH FROM %(expressions)s)) AS BIGINT)"  # PostgreSQL

    def get_db_converters(self, connection):
        # The database's integer as it comes: Django's int() of each row took a tenth of a day's history call.
        return []

    def as_sqlite(self, compiler, connection, **extra_context):
        # Django keeps datetimes in SQLite as UTC text. unixepoch() (SQLite 3.38) reads it in half the time of
        # strftime, which older versions fall back to; its % is doubled twice, as in Django's own Now.as_sqlite:
        # once for this template, once for the backend's placeholder substitution.
        if connection.Database.sqlite_version_info >= (3, 38):
            template = "unixepoch(%(expressions)s)"
        else:
            template = "CAST(strftime('%%%%s', %(expressions)s) AS INTEGER)"
        return self.as_sql(compiler, connection, template=template, **extra_context)


def stats_point_rows(rows: QuerySet[ContainerStatsSample], *leading: str) -> QuerySet:
    """Stored rows as tuples laid out as StatsPoint (after the `leading` columns), in the rows' order: read from
    the history index alone (it holds every column read), without a model instance a row."""
    with_epoch = rows.annotate(start_epoch=EpochSeconds("bucket_start"))
    return with_epoch.values_list(*leading, "start_epoch", *stats_columns(POINT_FIGURES))


def stats_stored_points(container_pk: int, resolution: int, since: datetime, until: datetime) -> list[StatsPoint]:
    """A container's stored buckets of one resolution that start in [since - resolution, until), oldest first:
    from its packed blocks, then from the rows not packed yet."""
    first = since - timedelta(seconds=resolution)
    blocks = ContainerStatsBlock.objects.filter(
        container_id=container_pk,
        resolution=resolution,
        block_start__gt=first - timedelta(seconds=block_seconds(resolution)),
        block_start__lt=until,
    )
    packed = points_between(
        [
            point
            for block in blocks.order_by("block_start").values_list("packed", flat=True)
            for point in unpack_points(block)
        ],
        first.timestamp(),
        until.timestamp(),
    )
    unpacked = list(stats_unpacked_points(container_pk, resolution, first, until))
    if packed and unpacked and unpacked[0][0] <= packed[-1][0]:
        return merged_points(packed, unpacked)  # a bucket written after its block was packed: rare, but kept
    return packed + unpacked


def stats_unpacked_points(container_pk: int, resolution: int, first: datetime, until: datetime) -> QuerySet:
    """A container's stored rows of one resolution (not packed yet) that start in [first, until), as StatsPoint
    tuples, oldest first."""
    rows = ContainerStatsSample.objects.filter(
        container_id=container_pk, resolution=resolution, bucket_start__gte=first, bucket_start__lt=until
    )
    return stats_point_rows(rows.order_by("bucket_start"))


def stats_pack(*, now: datetime, containers: int = PACK_CONTAINERS) -> int:
    """Pack this node's stored buckets of blocks that ended PACK_DELAY_SECONDS ago or more: the oldest such block
    of up to `containers` containers a resolution; returns how many buckets were packed."""
    packed = 0
    for retention in stats_retentions():
        resolution = retention.bucket_seconds
        past = block_start_of(int(now.timestamp()) - PACK_DELAY_SECONDS, resolution)
        mine = ContainerStatsSample.objects.filter(
            container__node_id=settings.CONTAINERSVC_NODE_ID,
            resolution=resolution,
            bucket_start__lt=datetime.fromtimestamp(past, tz=UTC),
        )
        oldest = mine.order_by("bucket_start").values_list("bucket_start", flat=True).first()
        if oldest is None:
            continue
        block_end = block_start_of(int(oldest.timestamp()), resolution) + block_seconds(resolution)
        before = {"resolution": resolution, "bucket_start__lt": datetime.fromtimestamp(block_end, tz=UTC)}
        pks = list(mine.filter(**before).order_by().values_list("container_id", flat=True).distinct()[:containers])
        packed += _pack(ContainerStatsSample.objects.filter(container_id__in=pks, **before), resolution)
    return packed


def _pack(rows: QuerySet[ContainerStatsSample], resolution: int) -> int:
    """These rows packed into their blocks (with what a block already holds), and deleted; in one transaction."""
    with transaction.atomic():
        grouped: dict[tuple[int, int], list[StatsPoint]] = defaultdict(list)
        for container_pk, *point in stats_point_rows(rows.order_by("container_id", "bucket_start"), "container_id"):
            grouped[(container_pk, block_start_of(point[0], resolution))].append(tuple(point))
        existing = {
            (block.container_id, int(block.block_start.timestamp())): block
            for block in ContainerStatsBlock.objects.filter(
                container_id__in={pk for pk, _ in grouped},
                resolution=resolution,
                block_start__in={datetime.fromtimestamp(start, tz=UTC) for _, start in grouped},
            )
        }
        earlier = {key: unpack_points(block.packed) for key, block in existing.items() if key in grouped}
        ContainerStatsBlock.objects.filter(pk__in=[existing[key].pk for key in earlier]).delete()
        blocks = []
        for (container_pk, start), points in grouped.items():
            merged = merged_points(earlier.get((container_pk, start), ()), points)
            blocks.append(
                ContainerStatsBlock(
                    container_id=container_pk,
                    resolution=resolution,
                    block_start=datetime.fromtimestamp(start, tz=UTC),
                    buckets=len(merged),
                    packed=pack_points(merged),
                )
            )
        ContainerStatsBlock.objects.bulk_create(blocks)
        deleted, _ = rows.delete()
    return deleted


def stats_prune(*, now: datetime) -> int:
    """Delete this node's buckets older than their resolution's retention, and its blocks all of whose time is;
    returns how many rows and blocks went."""
    deleted = 0
    for retention in stats_retentions():
        resolution = retention.bucket_seconds
        before = cutoff(now=now, seconds=retention.keep_seconds)
        mine = {"container__node_id": settings.CONTAINERSVC_NODE_ID, "resolution": resolution}
        rows, _ = ContainerStatsSample.objects.filter(**mine, bucket_start__lt=before).delete()
        block_before = before - timedelta(seconds=block_seconds(resolution))
        blocks, _ = ContainerStatsBlock.objects.filter(**mine, block_start__lte=block_before).delete()
        deleted += rows + blocks
    return deleted
