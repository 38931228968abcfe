"""A bucket and the row that stores it map field for field, both ways (one mapping, in services/stats.py)."""

from dataclasses import fields
from datetime import UTC, datetime

from containersvc.services.stats import stats_bucket_of_row, stats_row_of_bucket
from containersvc.stats import Bucket


def test_a_bucket_comes_back_from_its_row():
    bucket = Bucket(
        start=datetime(2026, 11, 30, 10, 0, tzinfo=UTC),
        seconds=10,
        samples=10,
        cpu_mean=12.5,
        cpu_max=40.0,
        mem_mean=1_000_000.4,
        mem_max=2_000_000,
        mem_limit=64 * 1024**2,
        net_rx_rate=1.5,
        net_tx_rate=2.5,
        blk_read_rate=3.5,
        blk_write_rate=4.5,
        pids=7,
    )
    row = stats_row_of_bucket(container_pk=3, bucket=bucket)
    assert (row.container_id, row.bucket_start, row.resolution, row.mem_mean) == (3, bucket.start, 10, 1_000_000)
    back = stats_bucket_of_row(row)
    assert back == Bucket(**{field.name: getattr(bucket, field.name) for field in fields(Bucket)} | {"mem_mean": 1e6})
