"""docker stats' numbers from two readings, and the buckets history is stored in (no engine)."""

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from containersvc.sample_history import SampleHistory, epoch_micros
from containersvc.stats import (
    BucketBuilder,
    Reading,
    bucket_of_sample,
    container_stats_from,
    downsample,
    memory_used,
)

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
SECOND = 1_000_000_000


def reading(**changes) -> Reading:
    base = Reading(
        container_id="c" * 64,
        at=T0,
        monotonic_ns=10 * SECOND,
        source="cgroup",
        cpu_usage_ns=0,
        system_cpu_ns=None,
        online_cpus=4,
        memory_usage_bytes=100 << 20,
        memory_inactive_file_bytes=36 << 20,
        memory_limit_bytes=256 << 20,
        net_rx_bytes=0,
        net_tx_bytes=0,
        blk_read_bytes=0,
        blk_write_bytes=0,
        pids=2,
    )
    return replace(base, **changes)


def test_first_reading_has_memory_but_no_cpu_or_rates():
    sample = container_stats_from(previous=None, current=reading())
    assert sample.cpu_percent is None and sample.net_rx_rate is None
    assert sample.memory_bytes == 64 << 20  # usage less inactive file cache
    assert sample.memory_percent == pytest.approx(25.0)


def test_cgroup_path_cpu_is_cpu_time_over_wall_clock():
    before = reading()
    after = reading(monotonic_ns=12 * SECOND, cpu_usage_ns=3 * SECOND, at=T0 + timedelta(seconds=2))
    assert container_stats_from(previous=before, current=after).cpu_percent == pytest.approx(150.0)


def test_engine_path_cpu_is_docker_stats_formula():
    before = reading(source="engine", system_cpu_ns=1000 * SECOND)
    # 2 s on 4 CPUs is 8 s of system time; the container used 1 s: 1/8 × 4 × 100 = 50 %.
    after = reading(source="engine", system_cpu_ns=1008 * SECOND, cpu_usage_ns=SECOND, monotonic_ns=12 * SECOND)
    assert container_stats_from(previous=before, current=after).cpu_percent == pytest.approx(50.0)


def test_rates_per_second():
    before = reading(net_rx_bytes=1000, net_tx_bytes=10, blk_read_bytes=0, blk_write_bytes=4096)
    after = reading(
        monotonic_ns=14 * SECOND, net_rx_bytes=9000, net_tx_bytes=50, blk_read_bytes=8192, blk_write_bytes=4096
    )
    sample = container_stats_from(previous=before, current=after)
    assert sample.net_rx_rate == 2000 and sample.net_tx_rate == 10
    assert sample.blk_read_rate == 2048 and sample.blk_write_rate == 0
    assert sample.net_rx_bytes == 9000


def test_counters_going_back_is_a_restart_not_a_negative_rate():
    before = reading(cpu_usage_ns=50 * SECOND, net_rx_bytes=10_000)
    after = reading(monotonic_ns=11 * SECOND, cpu_usage_ns=SECOND, net_rx_bytes=100)
    sample = container_stats_from(previous=before, current=after)
    assert sample.cpu_percent is None and sample.net_rx_rate is None


def test_memory_keeps_cache_when_figures_disagree():
    assert memory_used(usage=100, inactive_file=200) == 100


def _samples(cpu_values, start=T0):
    previous = reading(at=start - timedelta(seconds=1), monotonic_ns=0)
    out = []
    for index, cpu in enumerate(cpu_values):
        current = reading(
            at=start + timedelta(seconds=index),
            monotonic_ns=(index + 1) * SECOND,
            cpu_usage_ns=previous.cpu_usage_ns + int(cpu / 100 * SECOND),
            memory_usage_bytes=(index + 1) << 20,
            memory_inactive_file_bytes=0,
        )
        out.append(container_stats_from(previous=previous, current=current))
        previous = current
    return out


def test_buckets_close_when_the_next_starts_with_mean_and_max():
    builder = BucketBuilder(10)
    closed = [bucket for sample in _samples([10.0] * 9 + [100.0] + [50.0] * 3) if (bucket := builder.add(sample))]
    assert len(closed) == 1
    bucket = closed[0]
    assert bucket.start == T0 and bucket.samples == 10
    assert bucket.cpu_mean == pytest.approx(19.0) and bucket.cpu_max == pytest.approx(100.0)
    assert bucket.mem_max == 10 << 20 and bucket.mem_mean == pytest.approx(5.5 * (1 << 20))
    rest = builder.close()
    assert rest.start == T0 + timedelta(seconds=10) and rest.samples == 3
    assert builder.close() is None


def test_downsample_weights_by_samples():
    builder = BucketBuilder(10)
    buckets = [b for s in _samples([20.0] * 10 + [80.0] * 10 + [0.0]) if (b := builder.add(s))]
    (minute,) = downsample(buckets, 60)
    assert minute.samples == 20 and minute.cpu_mean == pytest.approx(50.0) and minute.cpu_max == pytest.approx(80.0)


def test_the_builder_makes_the_buckets_downsample_makes_of_its_samples():
    # The collector's running sums against the same samples merged as one-sample buckets: the same floats.
    samples = _samples([12.3, 0.1, 97.7, 33.3, 5.0, 66.6, 0.0, 1.25, 42.0, 7.77, 3.14, 99.9, 50.5])
    builder = BucketBuilder(5)
    built = [bucket for sample in samples if (bucket := builder.add(sample))]
    built.append(builder.close())
    parts = [bucket for sample in samples if (bucket := bucket_of_sample(sample, 5))]
    assert built == downsample(parts, 5)
    assert [bucket.samples for bucket in built] == [5, 5, 3]


def test_a_first_reading_starts_no_bucket():
    (first,) = _samples([10.0])
    first_reading = container_stats_from(previous=None, current=reading())
    builder = BucketBuilder(10)
    assert builder.add(first_reading) is None and builder.close() is None
    builder.add(first)
    assert builder.close().samples == 1


def test_history_gives_back_the_samples_it_was_given_oldest_first():
    samples = [container_stats_from(previous=None, current=reading()), *_samples([5.5, 100.0, 0.25, 7.0, 1.0])]
    history = SampleHistory(container_id="c" * 64, capacity=4)
    for count, sample in enumerate(samples[:3], start=1):
        history.append(sample)
        assert history.samples() == samples[:count]  # None (a first reading's CPU and rates) kept as None
    for sample in samples[3:]:
        history.append(sample)
    assert len(history) == 4
    assert history.samples() == samples[-4:]  # written round: the oldest go


def test_history_gives_its_cpu_column_oldest_first_as_the_samples_are():
    samples = [container_stats_from(previous=None, current=reading()), *_samples([5.5, 100.0, 0.25, 7.0, 1.0])]
    history = SampleHistory(container_id="c" * 64, capacity=4)
    for count in range(1, len(samples) + 1):
        history.append(samples[count - 1])
        ats, cpus = history.cpu_series()
        held = history.samples()  # as many, in the same order, before and after it is written round
        assert [epoch_micros(s.taken_at) for s in held] == list(ats)
        assert [s.cpu_percent for s in held] == [None if math.isnan(cpu) else cpu for cpu in cpus]
