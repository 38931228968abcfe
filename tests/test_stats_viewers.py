"""One collector whatever the number of viewers: sockets on ws/stats/ share the node's collector thread (run on
demand here, as in a process without the always-on producers), each gets every round, and one leaving does not
stop the others' rounds."""

import threading
from datetime import datetime

import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone

from containersvc.producers.stats_collector import collector
from tests.conftest import wait_for, wait_until
from tests.sockets import communicator, receive_until

PATH = "/ws/stats/"
pytestmark = pytest.mark.django_db(transaction=True)


def taken_at(message: dict) -> datetime:
    return datetime.fromisoformat(message["takenAt"])


def collector_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == collector.thread_name]


def test_two_viewers_share_one_collector_and_one_leaving_keeps_the_other_fed(viewer, container, stats, settings):
    settings.CONTAINERSVC_STATS_INTERVAL = 0.2
    mine = container("sleep 3600")
    # A collector stopping after an earlier test's sockets may still be ending: start from none.
    wait_for(lambda: not collector.running, timeout=10, what="no collector thread before the sockets open")

    def measured(message: dict) -> bool:
        return any(row["containerId"] == mine.id and row["cpuPercent"] is not None for row in message["stats"])

    async def scenario():
        first, second = communicator(PATH, viewer), communicator(PATH, viewer)
        assert (await first.connect())[0]
        assert (await second.connect())[0]
        both_subscribed = timezone.now()
        assert collector.subscribers == 2
        assert collector.running and len(collector.threads()) == 1 and len(collector_threads()) == 1
        thread = collector.threads()[0]

        # A round begun after both subscribed reaches both: the same batch, by its time.
        batch = await receive_until(first, lambda m: measured(m) and taken_at(m) > both_subscribed, timeout=30)
        same = await receive_until(second, lambda m: m["takenAt"] == batch["takenAt"], timeout=30)
        assert same["stats"] == batch["stats"]
        assert collector.threads() == [thread] and len(collector_threads()) == 1

        await first.disconnect()
        assert await wait_until(lambda: collector.subscribers == 1)
        # The remaining viewer keeps getting rounds from the same thread, later than the last one both saw.
        later = await receive_until(second, lambda m: measured(m) and taken_at(m) > taken_at(batch), timeout=30)
        assert later["stats"] and taken_at(later) > taken_at(batch)
        assert collector.running and collector.threads() == [thread] and len(collector_threads()) == 1

        await second.disconnect()

    async_to_sync(scenario)()
    assert collector.subscribers == 0
    wait_for(lambda: not collector.running, timeout=10, what="the collector to stop with its last viewer")
    assert not collector_threads()
