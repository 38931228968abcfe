"""The mirror follows what happens to containers, whoever does it, within a second; gaps are reconciled."""

import time
from contextlib import closing

import pytest

from containersvc.models import ContainerState
from containersvc.producers import container_status
from containersvc.producers.stats_collector import collector
from containersvc.startup import start_always_on_producers, stop_always_on_producers
from tests.conftest import OOM_KILLED_COMMAND, OOM_LIMIT_BYTES, how_it_ended, wait_for
from tests.reliability.conftest import row

pytestmark = pytest.mark.django_db(transaction=True)

WITHIN = 1.0  # seconds, from the change at the engine to the row showing it


def test_changes_made_with_the_engine_directly_show_within_a_second(producers, on_second_engine, test_image):
    with closing(on_second_engine.client()) as client:
        container = client.containers.create(test_image, ["sh", "-c", "sleep 600"], init=True)
        wait_for(lambda: row(container.id), timeout=WITHIN, what="a created container's row")
        assert row(container.id).state == ContainerState.CREATED

        container.start()
        wait_for(lambda: row(container.id).state == ContainerState.RUNNING, timeout=WITHIN, what="start mirrored")
        first_start = row(container.id).started_at

        container.restart(timeout=0)
        wait_for(lambda: row(container.id).started_at != first_start, timeout=3 + WITHIN, what="restart mirrored")
        assert row(container.id).state == ContainerState.RUNNING

        container.kill(signal="SIGTERM")  # docker-init passes it on; sh exits 143
        wait_for(lambda: row(container.id).state == ContainerState.EXITED, timeout=WITHIN, what="die mirrored")
        assert row(container.id).exit_code == 143

        container.remove()
        wait_for(lambda: row(container.id).state == ContainerState.REMOVED, timeout=WITHIN, what="destroy mirrored")


def test_an_out_of_memory_kill_is_mirrored(producers, on_second_engine, test_image):
    with closing(on_second_engine.client()) as client:
        # Whether its events are inspected or a full list meets it first (the follower's opening one may come
        # after the first row shows), the OOM kill, which only an inspect tells, must reach the row.
        first = client.containers.run(test_image, ["sleep", "600"], detach=True)
        wait_for(lambda: row(first.id), timeout=10, what="the follower's first list")
        container = client.containers.run(
            test_image,
            ["sh", "-c", OOM_KILLED_COMMAND],
            detach=True,
            mem_limit=OOM_LIMIT_BYTES,
            memswap_limit=OOM_LIMIT_BYTES,
        )
        # Generous: on a loaded machine the kernel may reclaim for a while before it kills.
        wait_for(lambda: row(container.id) and row(container.id).oom_killed, timeout=90,
                 what=lambda: f"the OOM kill mirrored ({how_it_ended(container)})")  # fmt: skip
        assert row(container.id).state == ContainerState.EXITED
        assert row(container.id).exit_code == 137


def test_a_restart_policy_restart_is_mirrored(producers, on_second_engine, test_image):
    with closing(on_second_engine.client()) as client:
        container = client.containers.run(
            test_image, ["sh", "-c", "sleep 0.3; exit 1"], detach=True, restart_policy={"Name": "on-failure"}
        )
        wait_for(lambda: row(container.id) and row(container.id).restart_count >= 2, timeout=15,
                 what="restarts counted")  # fmt: skip


def test_changes_while_the_service_was_down_are_reconciled_when_it_comes_back(producers, on_second_engine, test_image):
    with closing(on_second_engine.client()) as client:
        doomed = client.containers.run(test_image, ["sleep", "600"], detach=True)
        stopped = client.containers.run(test_image, ["sleep", "600"], detach=True, init=True)
        wait_for(lambda: row(doomed.id) and row(stopped.id), timeout=WITHIN, what="both rows")

        # The service is down: nothing follows events, and no sampler meets the new container either.
        stop_always_on_producers()
        wait_for(lambda: not container_status.producer.threads(), timeout=5, what="the events follower to stop")
        wait_for(lambda: not collector.running, timeout=10, what="the stats collector to stop")
        doomed.remove(force=True)
        stopped.kill(signal="SIGTERM")
        born = client.containers.run(test_image, ["sleep", "600"], detach=True)
        time.sleep(0.3)  # long enough that the events would have been mirrored, had anyone followed them
        assert row(doomed.id).state == ContainerState.RUNNING and row(born.id) is None

        assert start_always_on_producers()  # the service is back: a full list, then the events again
        wait_for(lambda: row(doomed.id).state == ContainerState.REMOVED, timeout=3, what="removal reconciled")
        wait_for(lambda: row(stopped.id).state == ContainerState.EXITED, timeout=3, what="exit reconciled")
        assert row(stopped.id).exit_code == 143
        wait_for(lambda: row(born.id), timeout=3, what="a container made meanwhile")


def test_what_only_an_inspect_tells_of_a_change_while_the_service_was_down_is_mirrored_when_it_comes_back(
    producers, on_second_engine, test_image
):
    """A list tells a container's state, not why or when it changed (an OOM kill, its restarts, when it ended):
    a container whose state changed while no event was followed is inspected once the service is back."""
    with closing(on_second_engine.client()) as client:
        container = client.containers.run(test_image, ["sleep", "600"], detach=True)
        wait_for(lambda: row(container.id) and row(container.id).state == ContainerState.RUNNING, timeout=10,
                 what="the running container's row")  # fmt: skip
        assert row(container.id).finished_at is None

        stop_always_on_producers()
        wait_for(lambda: not container_status.producer.threads(), timeout=5, what="the events follower to stop")
        container.kill()
        container.reload()
        ended = container.attrs["State"]["FinishedAt"]
        unseen = client.containers.run(test_image, ["sh", "-c", "exit 3"], detach=True)  # born and ended unseen
        assert unseen.wait(timeout=10)["StatusCode"] == 3

        assert start_always_on_producers()  # the full list shows it exited; its changed state has it inspected
        wait_for(lambda: row(container.id).finished_at, timeout=10, what="when it ended, mirrored after the gap")
        mirrored = row(container.id)
        assert mirrored.state == ContainerState.EXITED and mirrored.exit_code == 137
        assert mirrored.finished_at.isoformat()[:19] == ended[:19]  # the engine's moment, to the second
        wait_for(lambda: row(unseen.id) and row(unseen.id).finished_at, timeout=10,
                 what="when a container first met after it ended, ended")  # fmt: skip
        assert row(unseen.id).exit_code == 3
