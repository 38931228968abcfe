"""The containers page's live columns (CPU, memory, network and block IO rates) update from ws/stats/'s
changes and sort by their live values when their header is clicked."""

import re
import uuid

import docker.errors
import pytest
from playwright.sync_api import expect

from containersvc.services import mirror
from tests.browser.conftest import ARTIFACTS, open_page
from tests.conftest import MANAGED_LABELS, TEST_LABEL

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
RATE = re.compile(r"^[↓↑RW]\s\d+(\.\d+)?\s(B|KiB|MiB|GiB)/s$")


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
    page.goto("/")

    def cell(found, column):
        """A live cell, or one line of it (in, out, read, write)."""
        within = {"in": "network", "out": "network", "read": "disk", "write": "disk"}
        if column in within:
            return page.locator(f'#containers tr[data-id="{found.id}"] td.{within[column]} .{column}')
        return page.locator(f'#containers tr[data-id="{found.id}"] td.{column}')

    for found in (idle, server, sender):
        for column in ("in", "out", "read", "write"):
            expect(cell(found, column)).to_have_text(RATE, timeout=60000)
    expect(cell(idle, "in")).to_have_text(re.compile(r"^↓\s0\sB/s$"))
    expect(cell(server, "in")).to_have_text(re.compile(r"^↓\s\d+(\.\d+)?\s(KiB|MiB)/s$"), timeout=60000)
    expect(cell(sender, "out")).to_have_text(re.compile(r"^↑\s\d+(\.\d+)?\s(KiB|MiB)/s$"), timeout=60000)
    expect(cell(server, "memory")).to_have_text(re.compile(r"^\d+(\.\d+)?\s(KiB|MiB)\d+\.\d %$"))
    # Later rounds' changes reach the cells, in place: the line's text node is the one that was there.
    before = cell(server, "in").text_content()
    cell(server, "in").evaluate("line => { window.keptText = line.firstChild; }")
    expect(cell(server, "in")).not_to_have_text(before, timeout=30000)
    assert cell(server, "in").evaluate("line => line.firstChild === window.keptText")

    # By both directions together: the idle container (the newest, first unsorted) moves last, then first.
    rows = page.locator("#containers tbody tr")
    expect(rows.first).to_have_attribute("data-id", idle.id)
    network = page.locator('#containers th[data-sort="network"]')
    network.locator("button").click()
    expect(network).to_have_attribute("aria-sort", "descending")
    expect(rows.last).to_have_attribute("data-id", idle.id)
    network.locator("button").click()
    expect(network).to_have_attribute("aria-sort", "ascending")
    expect(rows.first).to_have_attribute("data-id", idle.id)
    # Block IO: this machine's kernel counts none (every rate 0 B/s), so only the header's cycle is checked.
    disk = page.locator('#containers th[data-sort="disk"]')
    disk.locator("button").click()
    expect(disk).to_have_attribute("aria-sort", "descending")
    expect(network).to_have_attribute("aria-sort", "none")
    expect(rows).to_have_count(3)
    assert not errors


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_containers_screenshots_with_live_columns(browser, live_server_url, owner, container, talking, scheme):
    """docs/screenshots/containers-*.png are refreshed from the containers-stats-*.png these keep."""
    burner = container("while :; do :; done")
    container("sleep 3600")
    server, sender = talking
    context, page, problems = open_page(browser, live_server_url, owner, scheme)
    page.goto("/")
    for found, cell in ((burner, "td.cpu"), (server, "td.network .in"), (sender, "td.network .out")):
        locator = page.locator(f'#containers tr[data-id="{found.id}"] {cell}')
        expect(locator).to_have_text(re.compile(r"^\S*\s?\d+(\.\d+)?\s(%|KiB/s|MiB/s)$"), timeout=60000)
    page.locator('#containers th[data-sort="cpu"] button').click()
    expect(page.locator("#containers tbody tr").first).to_have_attribute("data-id", burner.id)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"containers-stats-{scheme}.png"))
    assert problems == []
    context.close()


def test_a_status_change_remakes_only_its_own_row(page_for, owner, container):
    kept = container("sleep 3600")
    stopping = container("sleep 3600")
    page = page_for(owner)
    page.goto("/")
    row = page.locator(f'#containers tr[data-id="{kept.id}"]')
    expect(row.locator("td.cpu")).to_have_text(re.compile(r"^\d+\.\d %$"), timeout=60000)
    row.evaluate("tr => { window.keptRow = tr; }")
    stopping.stop(timeout=1)
    expect(page.locator(f'#containers tr[data-id="{stopping.id}"]')).to_have_attribute(
        "data-state", "exited", timeout=30000
    )
    assert row.evaluate("tr => tr === window.keptRow"), "the other container's row was made again"
