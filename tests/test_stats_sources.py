"""The collector's two paths report a container's network as the engine (and `docker stats`) does, whatever its
network mode: a container in the host's network has no figures of its own, one sharing another container's
namespace has that namespace's. No test here sends any traffic: the figures are compared as they stand."""

import docker.errors
import pytest

from containersvc import engine
from containersvc.producers.stats_collector import collector
from containersvc.services import mirror
from tests.conftest import MANAGED_LABELS, wait_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def run_sleeper(docker_client, test_image):
    """Run `sleep` in a test container with the network mode given; removed afterwards."""
    started = []

    def run(network_mode: str):
        found = docker_client.containers.run(
            test_image, ["sleep", "3600"], network_mode=network_mode, detach=True, labels=MANAGED_LABELS
        )
        started.append(found)
        return found

    yield run
    for found in reversed(started):  # a container sharing another's namespace first
        try:
            found.remove(force=True)
        except docker.errors.NotFound:
            pass


def engine_stats(docker_client, container_id: str) -> dict:
    return docker_client.api.stats(container_id, stream=False, one_shot=True)


def engine_network(raw: dict) -> tuple[int, int]:
    """The network bytes in the engine's own stats, as `docker stats` sums them (0B / 0B where it has none)."""
    networks = (raw.get("networks") or {}).values()
    return sum(n["rx_bytes"] for n in networks), sum(n["tx_bytes"] for n in networks)


def measured_sample(settings, source: str, container_id: str):
    """The collector, from empty on `source`, sampling the container until a sample has rates."""
    settings.CONTAINERSVC_STATS_SOURCE = source
    collector.reset()

    def measured():
        collector.collect_once(only={container_id})
        latest = collector.latest().get(container_id)
        return latest if latest is not None and latest.net_rx_rate is not None else None

    sample = wait_for(measured, timeout=30, interval=0.3, what=f"two samples of the container from the {source}")
    assert sample.source == source and collector.source == source
    return sample


def refused_inspect(*, container_id: str):
    pytest.fail(f"{container_id[:12]} inspected although the mirror knows it")


@pytest.mark.parametrize("first_met", ["inspected", "known to the mirror"])
def test_a_host_network_container_reports_the_network_figures_the_engine_reports(
    settings, docker_client, run_sleeper, monkeypatch, first_met
):
    on_host = run_sleeper("host")
    assert "networks" not in engine_stats(docker_client, on_host.id)  # the engine counts no network of its own
    # First the cgroup path: the engine path's round would write the container's row into the mirror.
    try:
        if first_met == "known to the mirror":
            # As the service has it after a listing: the collector's first round then asks the engine nothing.
            mirror.mirror_record_details(details=engine.container_inspect(container_id=on_host.id))
            with monkeypatch.context() as patched:
                patched.setattr(engine, "container_inspect", refused_inspect)
                by_cgroup = measured_sample(settings, "cgroup", on_host.id)
        else:
            by_cgroup = measured_sample(settings, "cgroup", on_host.id)
        by_engine = measured_sample(settings, "engine", on_host.id)
    finally:
        collector.reset()

    # docker stats' NET I/O of it: 0B / 0B. The host's traffic (this machine's own) is not the container's.
    expected = engine_network(engine_stats(docker_client, on_host.id))
    for sample in (by_engine, by_cgroup):
        assert (sample.net_rx_bytes, sample.net_tx_bytes) == expected, sample.source
        assert (sample.net_rx_rate, sample.net_tx_rate) == (0.0, 0.0), sample.source
    assert by_cgroup.pids >= 1 and by_cgroup.memory_bytes > 0  # the rest of it is still read


def test_a_container_in_anothers_network_reports_that_namespaces_figures_as_the_engine_does(
    settings, docker_client, run_sleeper
):
    # The engine counts the shared namespace's interfaces for `container:<id>` (not none, unlike `host`):
    # the cgroup path reads that namespace's net/dev through the container's own process.
    holder = run_sleeper("bridge")
    joined = run_sleeper(f"container:{holder.id}")
    try:
        raw_before = engine_stats(docker_client, joined.id)
        sample = measured_sample(settings, "cgroup", joined.id)
        raw_after = engine_stats(docker_client, joined.id)
    finally:
        collector.reset()
    assert "networks" in raw_before and "networks" in raw_after
    before, after = engine_network(raw_before), engine_network(raw_after)
    # Whatever reaches the bridge meanwhile (nothing the test sends): between the engine's reads before and after.
    assert before[0] <= sample.net_rx_bytes <= after[0] and before[1] <= sample.net_tx_bytes <= after[1]
