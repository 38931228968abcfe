"""The containers page's CPU and memory columns sort by their live values when their header is clicked."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


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
