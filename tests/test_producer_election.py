"""One storing stats collector per node: two service processes of one node on one database elect one; the
other stands by, takes over when the holder freezes or dies, and no bucket is ever stored twice. Likewise
one process of a node captures logs."""

import os
import signal
import subprocess
import sys
from collections.abc import Callable

import docker.errors
import pytest
from django.db import connection
from django.db.models import Count

from containersvc import labels
from containersvc.models import ContainerStatsSample, ProducerLease
from containersvc.producers.log_capture import LogCapture
from containersvc.producers.stats_collector import StatsCollector
from tests.conftest import MANAGED_LABELS, TEST_NODE, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

LEASE_SECONDS = 3
# What asgi.py starts in a server process, the stats collector alone, until stopped or killed; the file
# named on its command line is made once it has sampled.
COLLECTOR_IN_A_CHILD = """
import pathlib
import sys
import threading
import django
django.setup()
from containersvc.producers.stats_collector import collector
collector.start()
while not collector.latest():
    threading.Event().wait(0.1)
pathlib.Path(sys.argv[1]).touch()
threading.Event().wait()
"""


@pytest.fixture
def burner(docker_client, test_image):
    """A container burning CPU (no network); removed afterwards."""
    found = docker_client.containers.run(
        test_image, ["sh", "-c", "while :; do :; done"], detach=True, labels=MANAGED_LABELS, network_mode="none"
    )
    yield found
    try:
        found.remove(force=True)
    except docker.errors.NotFound:
        pass


@pytest.fixture
def collector_process(settings, tmp_path) -> Callable[[], subprocess.Popen]:
    """Start a process of this node running the always-on stats collector on the test database; returns
    once it samples."""
    started: list[subprocess.Popen] = []
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{connection.settings_dict['NAME']}",
        "CONTAINERSVC_DATA_DIR": str(settings.DATA_DIR),
        "CONTAINERSVC_NODE_ID": TEST_NODE,
        "CONTAINERSVC_STATS_INTERVAL": "0.25",
        "CONTAINERSVC_STATS_FINE_BUCKET_SECONDS": "1",
        "CONTAINERSVC_STATS_COARSE_BUCKET_SECONDS": "2",
        "CONTAINERSVC_LEASE_SECONDS": str(LEASE_SECONDS),
        "CONTAINERSVC_LEASE_RENEW_SECONDS": "0.5",
        "DJANGO_SETTINGS_MODULE": "containersvc.settings",
        "LOG_LEVEL": "WARNING",
    }

    def start() -> subprocess.Popen:
        sampling = tmp_path / f"sampling-{len(started)}"
        process = subprocess.Popen([sys.executable, "-c", COLLECTOR_IN_A_CHILD, str(sampling)], env=env)
        started.append(process)
        wait_for(lambda: sampling.exists() or process.poll() is not None, timeout=90, interval=0.2, what="sampling")
        assert process.poll() is None, f"the collector process ended (exit {process.returncode})"
        return process

    yield start
    for process in started:
        process.send_signal(signal.SIGCONT)
        process.kill()
        process.wait(timeout=10)


def holder_pid() -> int | None:
    lease = ProducerLease.objects.filter(node_id=TEST_NODE, role="stats").first()
    return int(lease.holder.split(":")[1]) if lease else None


def buckets(container_id: str):
    return ContainerStatsSample.objects.filter(container__container_id=container_id)


def duplicated(container_id: str) -> list[dict]:
    """Buckets stored more than once: one (resolution, start) of one container in two rows."""
    rows = buckets(container_id).values("resolution", "bucket_start").annotate(rows=Count("id")).order_by()
    return [row for row in rows if row["rows"] > 1]


def wait_for_new_buckets(container_id: str, *, after=None, count: int, what: str) -> None:
    """Wait until `count` fine buckets (begun after `after`) are stored: a holder is storing."""
    fine = buckets(container_id).filter(resolution=1)
    wait_for(
        lambda: (fine.filter(bucket_start__gt=after) if after else fine).count() >= count,
        timeout=60,
        interval=0.2,
        what=what,
    )


def test_one_process_of_a_node_stores_and_another_takes_over_when_it_freezes_or_dies(collector_process, burner):
    first = collector_process()
    wait_for(lambda: holder_pid() == first.pid, timeout=90, interval=0.2, what="the first process to take the lease")
    wait_for_new_buckets(burner.id, count=1, what="the first process to store")
    second = collector_process()
    both_sampling = buckets(burner.id).latest("bucket_start").bucket_start
    wait_for_new_buckets(burner.id, after=both_sampling, count=4, what="buckets stored, both processes sampling")
    assert holder_pid() == first.pid
    assert duplicated(burner.id) == []

    first.send_signal(signal.SIGSTOP)  # alive, renewing nothing: its lease expires
    wait_for(lambda: holder_pid() == second.pid, timeout=60, interval=0.2, what="the stand-by to take over")
    handed_over_at = ProducerLease.objects.get().handed_over_at
    wait_for_new_buckets(burner.id, after=handed_over_at, count=3, what="the new holder to store")

    first.send_signal(signal.SIGCONT)  # it finds its term over and stores nothing more
    latest = buckets(burner.id).latest("bucket_start").bucket_start
    wait_for_new_buckets(burner.id, after=latest, count=3, what="more buckets, both processes running")
    assert holder_pid() == second.pid
    assert duplicated(burner.id) == []

    second.kill()  # a process of this host that has ended leaves its lease at once
    second.wait(timeout=10)
    wait_for(lambda: holder_pid() == first.pid, timeout=60, interval=0.2, what="the first process to take it back")
    latest = buckets(burner.id).latest("bucket_start").bucket_start
    wait_for_new_buckets(burner.id, after=latest, count=3, what="the first process to store again")
    assert duplicated(burner.id) == []


def test_a_stand_by_still_samples_for_its_own_sockets_and_a_clean_stop_hands_over(settings, burner):
    settings.CONTAINERSVC_STATS_INTERVAL = 0.25
    settings.CONTAINERSVC_STATS_FINE_BUCKET_SECONDS = 1
    settings.CONTAINERSVC_STATS_COARSE_BUCKET_SECONDS = 2
    settings.CONTAINERSVC_LEASE_SECONDS = 60  # only a release can hand it over within the test
    settings.CONTAINERSVC_LEASE_RENEW_SECONDS = 0.25
    holder, stand_by = StatsCollector(), StatsCollector()
    holder.start()
    try:
        wait_for(lambda: holder.lease.held, timeout=30, what="the first collector to take the lease")
        stand_by.start()
        wait_for(lambda: burner.id in stand_by.latest(), timeout=60, what="the stand-by to sample the burner")
        assert not stand_by.lease.held
        wait_for(lambda: buckets(burner.id).count() >= 2, timeout=30, what="the holder to store buckets")
        holder.stop()
        stopped_at = buckets(burner.id).latest("bucket_start").bucket_start
        wait_for(lambda: stand_by.lease.held, timeout=30, what="the stand-by to take the released lease")
        wait_for_new_buckets(burner.id, after=stopped_at, count=2, what="the new holder to store")
        assert duplicated(burner.id) == []
    finally:
        holder.stop()
        stand_by.stop()


def test_one_log_capture_of_a_node_follows_and_a_stand_by_takes_over_at_a_clean_stop(
    settings, docker_client, test_image
):
    settings.CONTAINERSVC_LEASE_SECONDS = 60  # only a release can hand it over within the test
    settings.CONTAINERSVC_LEASE_RENEW_SECONDS = 0.25
    printer = docker_client.containers.run(
        test_image,
        ["sh", "-c", "while :; do echo tick; sleep 0.2; done"],
        detach=True,
        labels={**MANAGED_LABELS, labels.NODE: TEST_NODE},
        network_mode="none",
    )
    holder, stand_by = LogCapture(), LogCapture()
    holder.start()
    try:
        wait_for(lambda: holder.lease.held, timeout=30, what="the first capture to take the lease")
        wait_for(lambda: printer.id in holder.following(), timeout=30, what="the holder to follow the printer")
        stand_by.start()
        assert not stand_by.lease.renew()
        stand_by.ensure(container_id=printer.id)  # what its events listener does when the container starts
        assert stand_by.following() == []

        holder.stop()
        wait_for(lambda: stand_by.lease.held, timeout=30, what="the stand-by to take the released lease")
        wait_for(lambda: printer.id in stand_by.following(), timeout=30, what="the new holder to follow the printer")
    finally:
        holder.stop()
        stand_by.stop()
        printer.remove(force=True)
