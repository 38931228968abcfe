"""The history's points, downsampled on tuples and rendered as they are, are the JSON that `Bucket`s through
`stats.downsample`, written field by field, make of the same data, byte for byte."""

import dataclasses
from datetime import UTC, datetime

import pytest

from containersvc.api.renderers import OrjsonRenderer
from containersvc.api.views.stats import POINT_KEYS, ContainerStatsHistoryResponseSerializer
from containersvc.services.stats import stats_bucket_of_row, stats_columns, stats_row_of_bucket
from containersvc.stats import Bucket
from containersvc.stats_points import POINT_FIGURES, downsample_points, point_of_bucket
from tests.stats_points_reference import awkward_buckets, reference_points_json


def _row_tuple(bucket: Bucket) -> tuple:
    """A bucket as the selector reads its stored row: the start in epoch seconds, then POINT_FIGURES's columns."""
    row = stats_row_of_bucket(container_pk=1, bucket=bucket)
    return (int(bucket.start.timestamp()), *(getattr(row, column) for column in stats_columns(POINT_FIGURES)))


@pytest.mark.parametrize(("seconds", "step"), [(10, 10), (10, 60), (10, 7), (60, 60), (60, 420)])
def test_stored_buckets_answer_the_same_json(seconds, step):
    buckets = awkward_buckets(seconds, 500)
    stored = [stats_bucket_of_row(stats_row_of_bucket(container_pk=1, bucket=bucket)) for bucket in buckets]
    expected = reference_points_json(stored, step)

    written = downsample_points([_row_tuple(bucket) for bucket in buckets], step)
    assert OrjsonRenderer().render(written) == expected


@pytest.mark.parametrize("step", [1, 2, 5])
def test_memory_samples_answer_the_same_json(step):
    one_second = [
        dataclasses.replace(bucket, seconds=1, samples=1, mem_mean=float(bucket.mem_max))
        for bucket in awkward_buckets(1, 900)
    ]
    expected = reference_points_json(one_second, step)

    written = downsample_points([point_of_bucket(bucket) for bucket in one_second], step)
    assert OrjsonRenderer().render(written) == expected


def test_the_points_are_written_as_declared():
    """A point's values are in the order the answer declares (and so the OpenAPI document), the start in whole
    seconds since the epoch."""
    bucket = awkward_buckets(10, 1)[0]
    [point] = downsample_points([_row_tuple(bucket)], 10)
    declared = ContainerStatsHistoryResponseSerializer().fields["fields"].child.choices
    assert list(declared) == list(POINT_KEYS) and len(point) == len(POINT_KEYS)
    named = dict(zip(POINT_KEYS, point, strict=True))
    assert named["at"] == int(datetime(2026, 11, 30, 23, 58, tzinfo=UTC).timestamp())
    assert (named["cpuPercentMean"], named["memoryBytesMax"], named["pids"]) == (
        bucket.cpu_mean,
        bucket.mem_max,
        bucket.pids,
    )
