"""A newcomer's first minutes: `make run`'s script on an empty data directory prints a setup link; in the
browser it creates the first admin, and the dashboard arrives logged in, styled and live."""

import pytest
from playwright.sync_api import expect

from tests.processes import ServiceProcess, free_port, service_env

pytestmark = pytest.mark.browser
UNSTYLED_BACKGROUND = "rgba(0, 0, 0, 0)"  # the browser's own, without a stylesheet


@pytest.fixture
def service(tmp_path):
    started = ServiceProcess(["scripts/run"], env=service_env(tmp_path / "data", PORT=str(free_port())))
    yield started
    started.stop()


def test_the_printed_setup_link_leads_to_a_styled_live_dashboard(browser, service):
    assert service.wait_until_serving()[0] == 200
    link = service.setup_link()
    context = browser.new_context(base_url=service.url)
    page = context.new_page()
    page.set_default_timeout(15000)

    page.goto(link)
    page.get_by_label("Username").fill("first-admin")
    page.get_by_label("Password", exact=True).fill("a-long-browser-password-7")
    page.get_by_label("Password again").fill("a-long-browser-password-7")
    page.get_by_role("button", name="Create and log in").click()

    page.wait_for_url(f"{service.url}/")
    expect(page.get_by_role("heading", name="Containers")).to_be_visible()
    expect(page.locator("header .who")).to_contain_text("first-admin")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background != UNSTYLED_BACKGROUND
    assert page.evaluate("getComputedStyle(document.querySelector('header.top')).display") == "flex"
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live")  # the status socket is open
    expect(page.locator("#engine-banner")).to_be_hidden()

    assert page.goto(link).status == 404  # used up
    context.close()
