"""The resource stats shapes are written by one function each beside their declaration (api/stats_shapes.py): what
the functions write has its serializer's fields, key for key at every level, and is what the OpenAPI document
declares (the socket-only HostStats included). No engine: the samples are made here."""

from datetime import UTC, datetime

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework import serializers

from containersvc.api.stats_shapes import (
    ContainerStatsSerializer,
    ContainersTotalSerializer,
    DiskSerializer,
    HostStatsSerializer,
    LoadSerializer,
    NodeStatsSerializer,
    containers_total_payload,
    disk_payload,
    host_payload,
    load_payload,
    node_payload,
    stats_payload,
)
from containersvc.cgroups import CpuTimes, HostCounters
from containersvc.producers.stats_collector import batch_event
from containersvc.stats import ContainerStats, HostSample
from containersvc.stats_selectors import ContainersTotal, NodeStats
from tests.openapi_drift import component, drift

AT = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
SAMPLE = ContainerStats(
    container_id="a" * 64, taken_at=AT, source="cgroup", cpu_percent=12.5, memory_bytes=1024, memory_limit_bytes=4096,
    memory_percent=25.0, net_rx_bytes=10, net_tx_bytes=20, net_rx_rate=1.5, net_tx_rate=None, blk_read_bytes=30,
    blk_write_bytes=40, blk_read_rate=None, blk_write_rate=2.0, pids=3,
)  # fmt: skip
COUNTERS = HostCounters(
    cpu=CpuTimes(busy=10, total=100), per_cpu=(CpuTimes(5, 50), CpuTimes(5, 50)), load=(0.5, 0.25, 0.125),
    memory_total_bytes=8 * 1024**3, memory_available_bytes=6 * 1024**3,
)  # fmt: skip
HOST = HostSample(
    taken_at=AT, counters=COUNTERS, cpu_percent=10.0, per_cpu_percent=(10.0, None), disk_path="/var/lib/docker",
    disk=(100, 60, 40),
)  # fmt: skip
TOTAL = ContainersTotal(
    running=1, cpu_percent=12.5, memory_bytes=1024, net_rx_rate=1.5, net_tx_rate=0.0, blk_read_rate=0.0,
    blk_write_rate=2.0, pids=3,
)  # fmt: skip


def a_node(**changes) -> NodeStats:
    numbers = {
        "node_id": "node-1", "taken_at": AT, "source": "cgroup", "cpu_count": 2, "cpu_percent": 10.0,
        "per_cpu_percent": (10.0, None), "load": (0.5, 0.25, 0.125), "memory_total_bytes": 8,
        "memory_available_bytes": 6, "disk_path": "/var/lib/docker", "disk": (100, 60, 40), "containers": TOTAL,
    } | changes  # fmt: skip
    return NodeStats(**numbers)


def keys_differ(serializer: serializers.Serializer, written: dict, where: str) -> list[str]:
    """Where `written` and `serializer`'s fields differ in their keys, nested serializers (and lists of them)
    included."""
    fields = serializer.fields
    problems = [f"{where}.{key}: written, not a field" for key in sorted(set(written) - set(fields))]
    problems += [f"{where}.{key}: a field, not written" for key in sorted(set(fields) - set(written))]
    for key in sorted(set(written) & set(fields)):
        field, value = fields[key], written[key]
        if isinstance(field, serializers.ListSerializer) and value is not None:
            for item in value:
                problems += keys_differ(field.child, item, f"{where}.{key}[]")
        elif isinstance(field, serializers.Serializer) and value is not None:
            problems += keys_differ(field, value, f"{where}.{key}")
    return problems


CASES = [
    ("ContainerStats", ContainerStatsSerializer, lambda: stats_payload(SAMPLE, name="web")),
    ("Load", LoadSerializer, lambda: load_payload((0.5, 0.25, 0.125))),
    ("Disk", DiskSerializer, lambda: disk_payload("/var/lib/docker", (100, 60, 40))),
    ("HostStats", HostStatsSerializer, lambda: host_payload(HOST)),
    ("HostStats", HostStatsSerializer, lambda: host_payload(None)),
    ("HostStats", HostStatsSerializer, lambda: host_payload(HostSample(AT, COUNTERS, None, (None, None)))),
    ("ContainersTotal", ContainersTotalSerializer, lambda: containers_total_payload(TOTAL)),
    ("NodeStats", NodeStatsSerializer, lambda: node_payload(a_node())),
    (
        "NodeStats",
        NodeStatsSerializer,
        lambda: node_payload(
            a_node(source=None, cpu_percent=None, per_cpu_percent=(), load=None, memory_total_bytes=None, disk=None)
        ),
    ),
]
IDS = [
    "container-stats", "load", "disk", "host", "host-before-a-round", "host-first-round-no-disk",
    "containers-total", "node", "node-unknowns",
]  # fmt: skip


@pytest.fixture(scope="module")
def document() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.mark.parametrize(("shape", "serializer", "written"), CASES, ids=IDS)
def test_each_stats_writer_writes_its_serializers_fields(shape, serializer, written):
    assert keys_differ(serializer(), written(), shape) == []


@pytest.mark.parametrize(("shape", "serializer", "written"), CASES, ids=IDS)
def test_each_stats_shape_writes_what_the_document_declares(document, shape, serializer, written):
    assert drift(document, component(shape), written(), shape) == []


@pytest.mark.parametrize("shape", ["HostStats", "NodeStats"])
def test_the_document_declares_what_a_shape_may_send_as_null(document, shape):
    properties = document["components"]["schemas"][shape]["properties"]
    nullable = {key for key, schema in properties.items() if schema.get("nullable")}

    assert {"cpuPercent", "load", "memoryTotalBytes", "memoryAvailableBytes", "disk"} <= nullable


def test_a_batch_is_the_host_and_a_row_a_container_in_their_shapes(document):
    batch = batch_event([("web", SAMPLE)], host=HOST)

    assert batch["type"] == "stats.batch" and batch["takenAt"] == AT.isoformat()
    assert batch["node"] == host_payload(HOST)
    assert batch["stats"] == [stats_payload(SAMPLE, name="web")]
    assert drift(document, component("HostStats"), batch["node"], "node") == []
    assert drift(document, component("ContainerStats"), batch["stats"][0], "stats[0]") == []


def test_the_node_writes_memory_used_only_when_both_numbers_are_known():
    assert node_payload(a_node())["memoryUsedBytes"] == 2
    assert node_payload(a_node(memory_available_bytes=None))["memoryUsedBytes"] is None
