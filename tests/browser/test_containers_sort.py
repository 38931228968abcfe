"""The containers page's live columns (CPU, memory, network and block IO rates) update from ws/stats/'s
changes and sort by their live values when their header is clicked."""

import re
import uuid
from datetime import UTC, datetime

import docker.errors
import pytest
from playwright.sync_api import expect

from containersvc.services import mirror
from tests.conftest import MANAGED_LABELS, TEST_LABEL

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
RATE = re.compile(r"^\d+(\.\d+)?\s(B|KiB|MiB|GiB)/s$")


def test_the_cpu_column_sorts_and_keeps_sorting_as_values_update(page_for, owner, container):
    idle = container("sleep 3600")
    burner = container("while :; do :; done")
    page = page_for(owner)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/")
    for found in (idle, burner):
        cell = page.locator(f'#containers tr[data-id="{found.id}"] td.cpu')
        expect(cell).to_have_text(re.compile(r"^\d+\.\d %$"), timeout=60000)
    rows = page.locator("#containers tbody tr")
    cpu = page.locator('#containers th[data-sort="cpu"]')

    cpu.locator("button").click()
    expect(cpu).to_have_attribute("aria-sort", "descending")
    expect(rows.first).to_have_attribute("data-id", burner.id)
    cpu.locator("button").click()
    expect(cpu).to_have_attribute("aria-sort", "ascending")
    expect(rows.last).to_have_attribute("data-id", burner.id)
    # A later round's values re-sort the rows in place: the idle one stays first.
    before = page.locator(f'#containers tr[data-id="{burner.id}"] td.cpu').text_content()
    expect(page.locator(f'#containers tr[data-id="{burner.id}"] td.cpu')).not_to_have_text(before, timeout=10000)
    expect(rows.first).to_have_attribute("data-id", idle.id)

    memory = page.locator('#containers th[data-sort="memory"]')
    memory.locator("button").click()
    expect(memory).to_have_attribute("aria-sort", "descending")
    expect(cpu).to_have_attribute("aria-sort", "none")
    cpu.locator("button").click()
    cpu.locator("button").click()
    cpu.locator("button").click()
    expect(cpu).to_have_attribute("aria-sort", "none")
    assert not errors


@pytest.fixture
def talking(docker_client, test_image, owner):
    """Two of the owner's containers on a network of their own, one sending a steady stream to the other."""
    network = docker_client.networks.create(f"cst-net-{uuid.uuid4().hex[:8]}", driver="bridge", labels=TEST_LABEL)
    server_name = f"cst-rx-{uuid.uuid4().hex[:8]}"
    commands = {
        # stdin never ends, or nc would close the connection at once.
        "server": "sleep 3600 | nc -l -p 5000 > /dev/null",
        # About 640 KiB/s, reconnecting until the server listens.
        "sender": f"while :; do (while :; do head -c 65536 /dev/zero; sleep 0.1; done) | nc {server_name} 5000; "
        "sleep 0.5; done",
    }
    started = {}
    try:
        for role, command in commands.items():
            found = docker_client.containers.create(
                test_image,
                ["sh", "-c", command],
                network=network.name,
                labels=MANAGED_LABELS,
                name=server_name if role == "server" else None,
            )
            started[role] = found
            mirror.mirror_record_owner(container_id=found.id, created_by=owner)
            found.start()
        yield started["server"], started["sender"]
    finally:
        for found in started.values():
            try:
                found.remove(force=True)
            except docker.errors.NotFound:
                pass
        network.remove()


def test_the_network_and_block_io_columns_update_and_sort(page_for, owner, container, talking):
    idle = container("sleep 3600")
    server, sender = talking
    page = page_for(owner)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.clock.install()
    page.goto("/")
    # The page's timers stop (its 30 s redraw of the ages too): whatever the cells show came in place from
    # the socket's changes.
    page.clock.pause_at(datetime.fromtimestamp(page.evaluate("Date.now()") / 1000 + 1, UTC))

    def cell(found, column):
        return page.locator(f'#containers tr[data-id="{found.id}"] td.{column}')

    for found in (idle, server, sender):
        for column in ("netRx", "netTx", "blockRead", "blockWrite"):
            expect(cell(found, column)).to_have_text(RATE, timeout=60000)
    expect(cell(idle, "netRx")).to_have_text(re.compile(r"^0\sB/s$"))
    expect(cell(server, "netRx")).to_have_text(re.compile(r"^\d+(\.\d+)?\s(KiB|MiB)/s$"), timeout=60000)
    expect(cell(sender, "netTx")).to_have_text(re.compile(r"^\d+(\.\d+)?\s(KiB|MiB)/s$"), timeout=60000)
    expect(cell(server, "memory")).to_have_text(re.compile(r"^\d+(\.\d+)?\s(KiB|MiB) \(\d+\.\d %\)$"))
    # Later rounds' changes reach the cells.
    before = cell(server, "netRx").text_content()
    expect(cell(server, "netRx")).not_to_have_text(before, timeout=30000)

    rows = page.locator("#containers tbody tr")
    received = page.locator('#containers th[data-sort="netRx"]')
    received.locator("button").click()
    expect(received).to_have_attribute("aria-sort", "descending")
    expect(rows.first).to_have_attribute("data-id", server.id)
    received.locator("button").click()
    expect(received).to_have_attribute("aria-sort", "ascending")
    expect(rows.last).to_have_attribute("data-id", server.id)
    sent = page.locator('#containers th[data-sort="netTx"]')
    sent.locator("button").click()
    expect(sent).to_have_attribute("aria-sort", "descending")
    expect(received).to_have_attribute("aria-sort", "none")
    expect(rows.first).to_have_attribute("data-id", sender.id)
    # Block IO: this machine's kernel counts none (every rate 0 B/s), so only the header's cycle is checked.
    for column in ("blockRead", "blockWrite"):
        header = page.locator(f'#containers th[data-sort="{column}"]')
        header.locator("button").click()
        expect(header).to_have_attribute("aria-sort", "descending")
        expect(rows).to_have_count(3)
    assert not errors
