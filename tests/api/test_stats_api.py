"""The stats API: every container's latest sample, one container's history, the node's totals."""

import random
import uuid
from datetime import datetime, timedelta
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from containersvc import scopes, stats_blocks
from containersvc.models import Container, ContainerState
from containersvc.producers.stats_collector import collector
from containersvc.services.stats import stats_bucket_of_row, stats_pack, stats_store_buckets, stats_unpacked_points
from containersvc.stats import Bucket, ContainerStats, bucket_of_sample, bucket_start
from tests.conftest import wait_for
from tests.stats_points_reference import awkward_buckets, reference_history_points, reference_points_json

BURN = "while :; do :; done"
LIST = "/container-svc/containers/stats"
HISTORY = "/container-svc/container/stats/history"
NODE = "/container-svc/node/stats"
RECENT = "/container-svc/node/stats/recent"
pytestmark = pytest.mark.django_db


def sampled(stats_collector, *container_ids: str, count: int = 2) -> None:
    """Collect until each container has `count` samples with CPU figures."""

    def enough():
        stats_collector.collect_once()
        return all(
            len([s for s in stats_collector.history(cid) if s.cpu_percent is not None]) >= count
            for cid in container_ids
        )

    wait_for(enough, timeout=30, interval=0.3, what=f"{count} samples of {len(container_ids)} container(s)")


@pytest.mark.parametrize("path", [LIST, f"{HISTORY}?name=any", NODE, RECENT])
def test_scopes(path, make_user, bearer_client, stats):
    assert bearer_client(make_user(scopes.Scope.CONTAINER_VIEW)).get(path).status_code in (200, 404)
    assert bearer_client(make_user(scopes.Scope.LOG_VIEW)).get(path).status_code == 403
    response = bearer_client(make_user()).get(path)
    assert response.status_code == 403 and "container-svc:container:view" in response.json()["error"]
    assert APIClient().get(path).status_code == 401


def test_list_is_sorted_and_shows_only_what_the_caller_may_see(api, container, stats, make_user, bearer_client):
    burner = container(BURN)
    sleeper = container("sleep 3600")
    stranger = container("sleep 3600", owner=None)  # not the test account's
    sampled(stats, burner.id, sleeper.id, stranger.id)

    body = api.get(LIST, {"sort": "cpu"}).json()
    ids = [row["containerId"] for row in body["stats"]]
    assert ids == [burner.id, sleeper.id]
    top = body["stats"][0]
    assert top["cpuPercent"] > top["memoryPercent"] >= 0 and top["source"] == "cgroup" and top["pids"] >= 1
    assert top["memoryLimitBytes"] > top["memoryBytes"] > 0
    assert {"netRxBytesPerSecond", "blockWriteBytes", "nodeId", "name", "takenAt"} <= set(top)
    ascending = [row["containerId"] for row in api.get(LIST, {"sort": "cpu", "order": "asc"}).json()["stats"]]
    assert ascending == [sleeper.id, burner.id]
    assert len(api.get(LIST, {"sort": "memory"}).json()["stats"]) == 2

    admin = bearer_client(make_user(superuser=True))
    assert stranger.id in {row["containerId"] for row in admin.get(LIST).json()["stats"]}


@pytest.mark.parametrize("query", [{"sort": "colour"}, {"order": "sideways"}, {"limit": 3}])
def test_list_bad_input(api, stats, query):
    response = api.get(LIST, query)
    assert response.status_code == 400 and response.json()["error"]


def test_history_in_memory_by_id_and_name(api, container, stats, docker_client):
    burner = container(BURN)
    sampled(stats, burner.id, count=3)
    name = docker_client.containers.get(burner.id).name

    def two_points():
        stats.collect_once()
        response = api.get(HISTORY, {"id": burner.id, "step": 1})
        assert response.status_code == 200, response.json()
        return response.json() if len(response.json()["points"]) >= 2 else None

    body = wait_for(two_points, timeout=30, interval=0.3, what="two one-second points")
    assert body["containerId"] == burner.id and body["step"] == 1 and body["resolutionSeconds"] == 1
    assert all(point["cpuPercentMax"] >= point["cpuPercentMean"] >= 0 for point in points_of(body))
    assert sum(point["cpuPercentMean"] for point in points_of(body)) > 0
    assert api.get(HISTORY, {"name": name}).json()["containerId"] == burner.id


def test_history_of_a_removed_container_comes_from_the_stored_buckets(api, container, stats, settings):
    settings.CONTAINERSVC_STATS_FINE_BUCKET_SECONDS = 1
    settings.CONTAINERSVC_STATS_COARSE_BUCKET_SECONDS = 2
    sleeper = container("sleep 3600")

    def in_two_fine_buckets():  # rounds come every 0.3 s: a few samples can all fall in one second
        stats.collect_once()
        seconds = {int(s.taken_at.timestamp()) for s in stats.history(sleeper.id) if s.cpu_percent is not None}
        return len(seconds) >= 2

    wait_for(in_two_fine_buckets, timeout=30, interval=0.3, what="samples in two one-second buckets")
    sleeper.remove(force=True)
    wait_for(
        lambda: stats.collect_once() is not None and not stats.history(sleeper.id),
        timeout=10,
        what="the collector to forget the removed container",
    )

    fine = api.get(HISTORY, {"id": sleeper.id, "step": 1}).json()
    assert fine["resolutionSeconds"] == 1 and len(fine["points"]) >= 2
    coarse = api.get(HISTORY, {"id": sleeper.id, "step": 4}).json()
    assert coarse["resolutionSeconds"] == 2 and coarse["points"]
    assert all(point["pids"] >= 1 for point in points_of(coarse))


def test_history_points_carry_network_block_io_and_pids(api, container, stats, settings):
    sleeper = container("sleep 3600")
    sampled(stats, sleeper.id, count=2)
    row = Container.objects.get(node_id=settings.CONTAINERSVC_NODE_ID, container_id=sleeper.id)
    bucket = settings.CONTAINERSVC_STATS_FINE_BUCKET_SECONDS
    an_hour_ago = bucket_start(timezone.now() - timedelta(hours=1), bucket)
    stored = Bucket(
        start=an_hour_ago,
        seconds=bucket,
        samples=bucket,
        cpu_mean=12.5,
        cpu_max=30.0,
        mem_mean=4 * 1024**2,
        mem_max=5 * 1024**2,
        mem_limit=64 * 1024**2,
        net_rx_rate=1000.0,
        net_tx_rate=2000.0,
        blk_read_rate=3000.0,
        blk_write_rate=4000.0,
        pids=7,
    )
    stats_store_buckets(buckets=[(row.pk, stored)])

    since, until = an_hour_ago - timedelta(minutes=1), an_hour_ago + timedelta(minutes=1)
    body = api.get(HISTORY, {"id": sleeper.id, "step": bucket, "since": since.isoformat(), "until": until.isoformat()})
    assert points_of(body.json()) == [
        {
            "at": int(an_hour_ago.timestamp()),
            "samples": bucket,
            "cpuPercentMean": 12.5,
            "cpuPercentMax": 30.0,
            "memoryBytesMean": 4 * 1024**2,
            "memoryBytesMax": 5 * 1024**2,
            "memoryLimitBytes": 64 * 1024**2,
            "netRxBytesPerSecond": 1000.0,
            "netTxBytesPerSecond": 2000.0,
            "blockReadBytesPerSecond": 3000.0,
            "blockWriteBytesPerSecond": 4000.0,
            "pids": 7,
        }
    ]
    # From memory too, and declared in the OpenAPI document.
    recent = points_of(api.get(HISTORY, {"id": sleeper.id, "step": 1}).json())
    assert recent and all(point["pids"] >= 1 and point["netRxBytesPerSecond"] == 0 for point in recent)
    document = api.get("/container-svc/openapi.json").json()
    declared = document["components"]["schemas"]["StatsPointFieldEnum"]
    assert list(recent[0]) == declared["enum"]
    rates = {"netRxBytesPerSecond", "netTxBytesPerSecond", "blockReadBytesPerSecond", "blockWriteBytesPerSecond"}
    assert rates | {"pids"} <= set(declared["enum"])


def points_of(body: dict) -> list[dict]:
    """The answer's points (arrays in the order of its `fields`) as objects keyed by those names."""
    return [dict(zip(body["fields"], point, strict=True)) for point in body["points"]]


def a_row(settings, owner, *, name: str, state: str) -> Container:
    """A container's row of this node, the test account's, with no container behind it (its history is seeded)."""
    return Container.objects.create(
        node_id=settings.CONTAINERSVC_NODE_ID,
        container_id=uuid.uuid4().hex * 2,
        name=f"{name}-{uuid.uuid4().hex[:8]}",
        image="busybox",
        state=state,
        created_by=owner,
    )


@pytest.mark.parametrize("packed", [False, True], ids=["rows", "packed"])
@pytest.mark.parametrize("step", [10, 30])  # 10 s buckets: 60 would read the 1 min ones
def test_stored_history_answers_what_the_serializer_made_of_the_same_buckets(api, owner, settings, step, packed):
    """Read as tuples, downsampled on tuples and written by hand, the points are byte for byte what Buckets
    through `downsample` and the declared serializer made of the same rows (their figures are awkward); the
    same once the rows are packed into blocks."""
    settings.CONTAINERSVC_STATS_FINE_BUCKET_SECONDS = 10
    row = a_row(settings, owner, name="stored", state=ContainerState.REMOVED)
    first = bucket_start(timezone.now() - timedelta(hours=2), 60)
    buckets = awkward_buckets(10, 360, start=first)
    stats_store_buckets(buckets=[(row.pk, bucket) for bucket in buckets])
    stored = [stats_bucket_of_row(stored) for stored in row.stats_samples.order_by("bucket_start", "id")]
    if packed:
        passes = [stats_pack(now=timezone.now()) for _ in range(3)]  # the oldest block first, then the next
        assert sum(passes) == 360 and passes[-1] == 0 and not row.stats_samples.exists()

    until = first + timedelta(hours=1)
    query = {"id": row.container_id, "step": step, "since": first.isoformat(), "until": until.isoformat()}
    response = api.get(HISTORY, query)
    assert response.status_code == 200, response.json()
    assert response.json()["resolutionSeconds"] == 10 and len(response.json()["points"]) == 3600 // step
    assert response.content.endswith(b'"points":' + reference_points_json(stored, step) + b"}")


def _memory_samples(container_id: str, first: datetime, count: int) -> list[ContainerStats]:
    """A second's samples, taken a little after each second as the collector takes them; the first has no CPU."""
    rng = random.Random(count)
    return [
        ContainerStats(
            container_id=container_id,
            taken_at=first + timedelta(seconds=number, microseconds=rng.randrange(1_000_000)),
            source="cgroup",
            cpu_percent=None if number == 0 else rng.choice([0.1, 1 / 3, rng.random() * 200]),
            memory_bytes=rng.randrange(2**32),
            memory_limit_bytes=2**33,
            memory_percent=1.0,
            net_rx_bytes=0,
            net_tx_bytes=0,
            net_rx_rate=None if number == 0 else rng.random() * 1e6,
            net_tx_rate=None if number == 0 else 0.1,
            blk_read_bytes=0,
            blk_write_bytes=0,
            blk_read_rate=None if number == 0 else 2.5e-5,
            blk_write_rate=None if number == 0 else rng.random(),
            pids=rng.randrange(1, 100),
        )
        for number in range(count)
    ]


@pytest.mark.parametrize("packed", [False, True], ids=["rows", "packed"])
@pytest.mark.parametrize(("minutes", "step"), [(30, 1), (30, 10), (30, 45), (8, 1), (8, 7)])
def test_history_across_stored_buckets_and_memory_answers_as_before(
    api, owner, settings, monkeypatch, minutes, step, packed
):
    """Stored buckets up to where memory begins, then memory's seconds: the points are byte for byte what the
    selector made of the same buckets and samples before it read tuples (tests/stats_points_reference.py); the
    same when the older stored buckets lie in packed blocks and the newer in rows."""
    settings.CONTAINERSVC_STATS_FINE_BUCKET_SECONDS = 10
    row = a_row(settings, owner, name="sampled", state=ContainerState.RUNNING)
    now = timezone.now()
    stored_from = bucket_start(now - timedelta(minutes=40), 60)
    stats_store_buckets(buckets=[(row.pk, bucket) for bucket in awkward_buckets(10, 210, start=stored_from)])
    stored = [stats_bucket_of_row(stored) for stored in row.stats_samples.order_by("bucket_start", "id")]
    if packed:
        monkeypatch.setattr(stats_blocks, "BLOCK_BUCKETS", 60)  # blocks of 10 min: at least one is past then
        stats_pack(now=stored_from + timedelta(minutes=20))
        assert row.stats_blocks.exists() and row.stats_samples.exists()
    samples = _memory_samples(row.container_id, now - timedelta(minutes=10), 600)
    monkeypatch.setattr(collector, "history", lambda container_id: samples if container_id == row.container_id else [])

    since, until = now - timedelta(minutes=minutes), now
    query = {"id": row.container_id, "step": step, "since": since.isoformat(), "until": until.isoformat()}
    response = api.get(HISTORY, query)
    assert response.status_code == 200, response.json()
    memory = [bucket for bucket in map(bucket_of_sample, samples) if bucket is not None]
    expected = reference_history_points(
        stored=stored, memory=memory, since=since, until=until, step=step, bucket_seconds=10
    )
    assert response.json()["points"] and response.content.endswith(b'"points":' + expected + b"}")


def test_history_bad_input(api, container, stats):
    sleeper = container("sleep 3600")
    sampled(stats, sleeper.id, count=1)
    now = timezone.now()

    def get(**query):
        return api.get(f"{HISTORY}?{urlencode(query)}")

    assert get(id="f" * 64).status_code == 404
    assert get(name="no-such-container").status_code == 404
    assert get().status_code == 400
    assert get(id=sleeper.id, step=0).status_code == 400
    after = get(id=sleeper.id, since=now.isoformat(), until=(now - timedelta(minutes=1)).isoformat())
    assert after.status_code == 400 and after.json()["error"] == "since must be before until."
    too_old = get(id=sleeper.id, since=(now - timedelta(days=30)).isoformat())
    assert too_old.status_code == 400 and "kept for" in too_old.json()["error"]
    too_many = get(id=sleeper.id, since=(now - timedelta(days=6)).isoformat(), step=1)
    assert too_many.status_code == 400
    assert get(id=sleeper.id, since="yesterday").status_code == 400


def test_history_of_a_container_the_caller_may_not_see_is_not_found(api, container, stats):
    stranger = container("sleep 3600", owner=None)
    sampled(stats, stranger.id, count=1)
    response = api.get(HISTORY, {"id": stranger.id})
    assert response.status_code == 404
    assert response.json()["error"] == f"No container with id or name '{stranger.id}'."


def test_node_totals(api, container, stats, docker_client):
    burner = container(BURN)
    sampled(stats, burner.id)
    body = api.get(NODE).json()
    assert 0 < body["cpuPercent"] <= 100
    assert len(body["cpuPercentPerCore"]) == body["cpuCount"] >= 1
    assert body["memoryTotalBytes"] >= body["memoryUsedBytes"] > 0 and body["memoryAvailableBytes"] > 0
    assert set(body["load"]) == {"one", "five", "fifteen"}
    assert body["disk"]["path"] == docker_client.info()["DockerRootDir"]
    assert body["disk"]["totalBytes"] >= body["disk"]["usedBytes"] > 0
    assert body["containers"]["running"] >= 1 and body["containers"]["cpuPercent"] > 0
    assert body["source"] == "cgroup"


def test_node_totals_sum_only_the_containers_the_caller_may_see(api, container, stats, make_user, bearer_client):
    mine = container("sleep 3600")
    strangers = container(BURN, owner=None)  # not the test account's
    sampled(stats, mine.id, strangers.id)
    latest = stats.latest()  # the tests drive the collector: nothing samples between the calls below

    own = api.get(NODE).json()["containers"]
    assert own["running"] == 1
    assert own["cpuPercent"] == pytest.approx(latest[mine.id].cpu_percent)
    assert own["memoryBytes"] == latest[mine.id].memory_bytes
    everything = bearer_client(make_user(superuser=True)).get(NODE).json()["containers"]
    assert everything["running"] >= 2
    assert everything["memoryBytes"] >= latest[mine.id].memory_bytes + latest[strangers.id].memory_bytes


def test_the_node_recent_rounds_sum_only_what_the_caller_may_see(api, container, stats, make_user, bearer_client):
    mine = container(BURN)
    strangers = container(BURN, owner=None)
    sampled(stats, mine.id, strangers.id, count=3)
    cpu_of = {
        cid: {s.taken_at.timestamp(): s.cpu_percent for s in stats.history(cid) if s.cpu_percent is not None}
        for cid in (mine.id, strangers.id)
    }

    body = api.get(RECENT).json()
    assert body["fields"] == ["at", "cpuPercent", "memoryUsedBytes", "containersCpuPercent"]
    assert body["intervalSeconds"] > 0
    points = body["points"]
    assert [point[0] for point in points] == sorted({point[0] for point in points})  # one a round, oldest first
    assert points[0][1] is None and all(0 <= point[1] <= 100 for point in points[1:])  # CPU from the second on
    assert all(point[2] > 0 for point in points)
    own = {point[0]: point[3] for point in points}
    measured = [at for at in cpu_of[mine.id] if at in own]
    assert len(measured) >= 3
    for at in measured:
        assert own[at] == pytest.approx(cpu_of[mine.id][at])  # the stranger's burner is not in the sum
    everything = {point[0]: point[3] for point in bearer_client(make_user(superuser=True)).get(RECENT).json()["points"]}
    for at in measured:
        both = cpu_of[mine.id][at] + cpu_of[strangers.id].get(at, 0.0)
        assert everything[at] >= both - 1e-9


def test_openapi_names_the_operations(api):
    document = api.get("/container-svc/openapi.json").json()
    operations = {
        operation["operationId"]
        for path_item in document["paths"].values()
        for operation in path_item.values()
        if isinstance(operation, dict) and "operationId" in operation
    }
    assert {"listContainerStats", "getContainerStatsHistory", "getNodeStats", "getNodeStatsRecent"} <= operations


def test_a_stored_history_is_read_from_its_index_alone(owner, settings):
    """A day of a container's buckets is read from the covering history index, never from the table's rows (on
    a loaded table they lie spread over it): the plan says so on either database."""
    row = a_row(settings, owner, name="planned", state=ContainerState.REMOVED)
    until = timezone.now()
    rows = stats_unpacked_points(row.pk, 10, until - timedelta(days=1), until)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")  # an empty table is otherwise read whole
            cursor.execute("SET LOCAL enable_bitmapscan = off")
        plan = rows.explain()
    if connection.vendor == "postgresql":
        assert "Index Only Scan using stats_sample_history_idx" in plan, plan
    else:
        assert "USING COVERING INDEX stats_sample_history_idx" in plan and "TEMP B-TREE" not in plan, plan
