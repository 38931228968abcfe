"""Stored buckets packed into blocks: the same points come back, to the bit; only past blocks of this node's
containers are packed, a few containers a pass; a bucket written late joins its block; retention drops whole
blocks."""

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from containersvc.models import Container, ContainerState, ContainerStatsBlock, ContainerStatsSample
from containersvc.services.stats import stats_pack, stats_prune, stats_store_buckets, stats_stored_points
from containersvc.stats import Bucket
from containersvc.stats_blocks import BLOCK_BUCKETS, block_start_of, pack_points, unpack_points
from containersvc.stats_points import point_of_bucket
from tests.stats_points_reference import awkward_buckets

HOUR = 3600
# A block's start: 10 s buckets are packed an hour a block.
MIDNIGHT = datetime(2026, 11, 30, tzinfo=UTC)


def test_points_come_back_from_their_block_to_the_bit():
    points = [point_of_bucket(bucket) for bucket in awkward_buckets(10, 50)]
    unlimited = (*points[0][:6], 9_223_372_036_854_771_712, *points[0][7:])  # cgroup v1's "no limit"
    packed = pack_points([*points, unlimited])
    assert unpack_points(packed) == [*points, unlimited]
    assert unpack_points(memoryview(packed)) == [*points, unlimited]  # as PostgreSQL's driver hands it back


def test_a_bucket_belongs_in_the_block_its_start_lies_in():
    assert BLOCK_BUCKETS * 10 == HOUR
    at = int(MIDNIGHT.timestamp())
    assert block_start_of(at, 10) == at
    assert block_start_of(at + HOUR - 10, 10) == at
    assert block_start_of(at + HOUR, 10) == at + HOUR
    assert block_start_of(at + 6 * HOUR - 60, 60) == at  # 1 min buckets: six hours a block


def _container(settings, name: str, node: str | None = None) -> Container:
    return Container.objects.create(
        node_id=node or settings.CONTAINERSVC_NODE_ID, container_id=name * 64, name=name, state=ContainerState.RUNNING
    )


def _stored(container: Container, start: datetime, count: int) -> list[Bucket]:
    buckets = awkward_buckets(10, count, start=start)
    stats_store_buckets(buckets=[(container.pk, bucket) for bucket in buckets])
    return buckets


def _read(container: Container, since: datetime, until: datetime):
    return stats_stored_points(container.pk, 10, since, until)


@pytest.fixture
def fine(settings):
    settings.CONTAINERSVC_STATS_FINE_BUCKET_SECONDS = 10
    settings.CONTAINERSVC_STATS_FINE_RETENTION_SECONDS = 86400
    settings.CONTAINERSVC_STATS_COARSE_BUCKET_SECONDS = 60
    settings.CONTAINERSVC_STATS_COARSE_RETENTION_SECONDS = 7 * 86400
    return settings


@pytest.mark.django_db
def test_past_blocks_are_packed_and_read_as_the_rows_were(fine):
    row = _container(fine, "a")
    _stored(row, MIDNIGHT - timedelta(seconds=600), 60 + 2 * BLOCK_BUCKETS + 30)  # 10 min, two hours, 5 min
    since, until = MIDNIGHT - timedelta(minutes=15), MIDNIGHT + timedelta(hours=3)
    before = _read(row, since, until)
    assert len(before) == 60 + 2 * BLOCK_BUCKETS + 30

    # Two hours and a half after midnight: the last bucket (at 2:05) closed long ago, but its block has not ended.
    # A pass packs a container's oldest past block.
    passes = [stats_pack(now=MIDNIGHT + timedelta(hours=2, minutes=30)) for _ in range(4)]
    assert passes == [60, BLOCK_BUCKETS, BLOCK_BUCKETS, 0]
    blocks = list(row.stats_blocks.order_by("block_start").values_list("block_start", "buckets"))
    assert blocks == [
        (MIDNIGHT - timedelta(hours=1), 60),
        (MIDNIGHT, BLOCK_BUCKETS),
        (MIDNIGHT + timedelta(hours=1), BLOCK_BUCKETS),
    ]
    assert row.stats_samples.count() == 30
    assert _read(row, since, until) == before
    # Any window: blocks cut where it begins and ends, like rows.
    inside = (MIDNIGHT + timedelta(minutes=50, seconds=5), MIDNIGHT + timedelta(hours=2, minutes=1))
    assert _read(row, *inside) == [p for p in before if inside[0].timestamp() - 10 <= p[0] < inside[1].timestamp()]

    # A block is packed a minute after its end (when its last bucket closed), not before.
    assert stats_pack(now=MIDNIGHT + timedelta(hours=3, seconds=59)) == 0
    assert stats_pack(now=MIDNIGHT + timedelta(hours=3, seconds=60)) == 30
    assert not row.stats_samples.exists() and _read(row, since, until) == before


@pytest.mark.django_db
def test_a_bucket_written_after_its_block_was_packed_joins_it(fine):
    row = _container(fine, "b")
    buckets = _stored(row, MIDNIGHT, 10)
    stats_pack(now=MIDNIGHT + timedelta(hours=2))
    late = dataclasses.replace(buckets[0], start=MIDNIGHT + timedelta(minutes=30))
    stats_store_buckets(buckets=[(row.pk, late)])
    window = (MIDNIGHT, MIDNIGHT + timedelta(hours=1))
    expected = [point_of_bucket(bucket) for bucket in [*buckets, late]]
    assert _read(row, *window) == expected  # read from the block and the row, in order

    assert stats_pack(now=MIDNIGHT + timedelta(hours=2)) == 1
    assert list(row.stats_blocks.values_list("buckets", flat=True)) == [11]
    assert _read(row, *window) == expected


@pytest.mark.django_db
def test_a_pass_packs_a_few_containers_and_only_this_nodes(fine):
    ours = [_container(fine, name) for name in "cde"]
    theirs = _container(fine, "f", node="another-node")
    for row in [*ours, theirs]:
        _stored(row, MIDNIGHT, 6)
    later = MIDNIGHT + timedelta(hours=2)
    assert stats_pack(now=later, containers=2) == 12
    assert stats_pack(now=later, containers=2) == 6
    assert stats_pack(now=later, containers=2) == 0
    assert ContainerStatsBlock.objects.filter(container__in=ours).count() == 3
    assert theirs.stats_samples.count() == 6 and not theirs.stats_blocks.exists()


@pytest.mark.django_db
def test_retention_drops_a_block_once_all_of_its_time_is_past(fine):
    row = _container(fine, "g")
    _stored(row, MIDNIGHT, BLOCK_BUCKETS)
    stats_pack(now=MIDNIGHT + timedelta(hours=2))
    assert row.stats_blocks.count() == 1
    # Retention 24 h: a day after the block's first bucket it still holds buckets that are kept.
    assert stats_prune(now=MIDNIGHT + timedelta(days=1, minutes=59)) == 0
    assert row.stats_blocks.count() == 1
    assert stats_prune(now=MIDNIGHT + timedelta(days=1, hours=1)) == 1
    assert not row.stats_blocks.exists() and not ContainerStatsSample.objects.filter(container=row).exists()
