"""Stored resource history: closed buckets written in one batch, and pruned by retention."""

from dataclasses import dataclass
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


def stats_store_buckets(*, buckets: list[tuple[int, Bucket]]) -> int:
    """Closed buckets as (container row pk, bucket), in one insert."""
    rows = [
        ContainerStatsSample(
            container_id=container_pk,
            resolution=bucket.seconds,
            bucket_start=bucket.start,
            samples=bucket.samples,
            cpu_mean=bucket.cpu_mean,
            cpu_max=bucket.cpu_max,
            mem_mean=round(bucket.mem_mean),
            mem_max=bucket.mem_max,
            mem_limit=bucket.mem_limit,
            net_rx_rate=bucket.net_rx_rate,
            net_tx_rate=bucket.net_tx_rate,
            blk_read_rate=bucket.blk_read_rate,
            blk_write_rate=bucket.blk_write_rate,
            pids=bucket.pids,
        )
        for container_pk, bucket in buckets
    ]
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
