"""In the browser: a pull asked for on the images page shows its layers live, goes on when left and is shown
again when reopened; the API browser loads from the service alone."""

import re

import pytest
from playwright.sync_api import expect

from containersvc.scopes import Scope

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_pull_from_the_images_page_shows_its_layers_and_can_be_reopened(
    page_for, make_user, fresh_registry_image, live_server_url
):
    page = page_for(make_user(*Scope))
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))

    page.goto("/images/")
    page.fill("#pull-form #id_image", fresh_registry_image)
    page.click("#pull-form button[type=submit]")

    expect(page).to_have_url(re.compile(r"/pulls/\d+/$"))
    pull_url = page.url
    expect(page.locator("#pull-layers tr").first).to_be_visible()  # layers appear while it runs
    page.goto("/")  # leave
    page.goto(pull_url)  # and come back
    expect(page.locator("#pull-status")).to_have_text("succeeded", timeout=60000)
    expect(page.locator("#pull-layers")).to_contain_text("Pull complete")
    expect(page.locator("#pull-summary")).to_contain_text(re.compile(r"(\d+) of \1 layers"))
    bar = page.locator("#pull-bar")
    assert bar.get_attribute("value") == bar.get_attribute("max")
    page.goto("/images/")
    expect(page.locator("#pulls")).to_contain_text(fresh_registry_image)
    assert problems == []


def test_the_api_browser_shows_the_operations_with_nothing_from_elsewhere(page_for, make_user, live_server_url):
    page = page_for(make_user())
    requests: list[str] = []
    problems: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))  # CSP too

    page.goto("/container-svc/docs/")

    expect(page.locator("#swagger-ui")).to_contain_text("runContainer", timeout=30000)
    expect(page.locator("#swagger-ui")).to_contain_text("pullImage")
    assert problems == []
    assert requests and all(url.startswith(live_server_url) for url in requests), requests
