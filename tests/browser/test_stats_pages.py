"""The resources on the node page and the container page in a real browser, live from ws/stats/.

The live daphne runs no always-on producers, so the page's socket starts the collector in that process. Its
first round inspects every running container of the engine once, other tests' too: the first figures wait
for that."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_node_page_shows_the_resources_live(page_for, owner, container):
    burner = container("while :; do :; done")
    stranger = container("sleep 3600", owner=None)
    page = page_for(owner)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.goto("/node/")

    row = page.locator(f'#container-stats tr[data-id="{burner.id}"]')
    expect(row.locator("td.cpu")).to_have_text(re.compile(r"^\d+\.\d %$"), timeout=60000)
    expect(row.locator("td.memory")).to_contain_text("MiB")
    expect(page.locator("#node-resources")).to_have_attribute("data-state", "live")
    expect(page.locator("#node-readings")).to_contain_text("cores")
    expect(page.locator("#node-charts figure.chart")).to_have_count(3)
    expect(page.locator("#node-charts svg").first).not_to_have_attribute("data-points", re.compile(r"^[01]$"))
    expect(page.locator(f'#container-stats tr[data-id="{stranger.id}"]')).to_have_count(0)
    assert not errors


def test_the_container_page_charts_its_resources(page_for, owner, container):
    burner = container("while :; do :; done")
    page = page_for(owner)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.goto(f"/containers/{burner.id}/")

    expect(page.locator("#container-resources")).to_have_attribute("data-state", "live", timeout=60000)
    expect(page.locator("#container-readings")).to_contain_text(re.compile(r"CPU \d+\.\d % · memory .* PIDs"))
    expect(page.locator("#container-charts figure.chart")).to_have_count(2)
    expect(page.locator("#container-charts svg").first).not_to_have_attribute("data-points", re.compile(r"^[01]$"))
    assert not errors


def test_the_containers_page_has_live_cpu_and_memory_columns(page_for, owner, container):
    burner = container("while :; do :; done")
    page = page_for(owner)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/")

    row = page.locator(f'#containers tr[data-id="{burner.id}"]')
    expect(row.locator("td.cpu")).to_have_text(re.compile(r"^\d+\.\d %$"), timeout=60000)
    expect(row.locator("td.memory")).to_have_text(re.compile(r"^\d+\.\d MiB$"))
    assert not errors
