"""Browser tests: a live daphne (in a child process, on 127.0.0.1) serving the test database, and Debian's
chromium driven by Playwright (never a downloaded browser)."""

import os
from functools import partial
from pathlib import Path

import pytest
from channels.testing.live import make_application, set_database_connection
from daphne.testing import DaphneProcess
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.test import Client
from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PASSWORD = "pw-for-tests"
# Screenshots are kept as test artifacts, from which docs/screenshots/ is refreshed.
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


class LiveServer:
    """daphne with the real ASGI application (websockets included), forked after the test settings are in."""

    def __init__(self) -> None:
        self.port = 0
        self.process: DaphneProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = DaphneProcess(
            "127.0.0.1",
            partial(make_application, static_wrapper=ASGIStaticFilesHandler),
            setup=set_database_connection,
            port=self.port,
        )
        self.process.start()
        if not self.process.ready.wait(timeout=30):
            self.stop()
            pytest.fail("daphne did not start")
        self.port = self.process.port.value

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.join(10)
            self.process = None

    def restart(self) -> None:
        """Another server process on the same port: every socket drops, and the producers start afresh."""
        self.stop()
        self.start()


@pytest.fixture
def daphne_server(transactional_db, service_settings):
    server = LiveServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def live_server_url(daphne_server) -> str:
    return daphne_server.url


@pytest.fixture(scope="module")
def browser():
    # Playwright's sync API runs an event loop in this thread, which Django takes for an async context; the
    # ORM calls these tests make between browser steps are plain synchronous ones. Only while it runs.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield launched
            launched.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page_for(browser, live_server_url):
    """A fresh browser page logged in as the given user (through the session cookie)."""
    contexts = []

    def open_page(user):
        client = Client()
        client.force_login(user)
        context = browser.new_context(base_url=live_server_url)
        context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server_url}])
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15000)
        return page

    yield open_page
    for context in contexts:
        context.close()


def open_page(browser, live_server_url, user, scheme: str):
    """A page logged in as `user` in the colour scheme, and the list its script errors and failed requests go to."""
    client = Client()
    client.force_login(user)
    context = browser.new_context(
        base_url=live_server_url, color_scheme=scheme, viewport={"width": 1280, "height": 800}
    )
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server_url}])
    page = context.new_page()
    page.set_default_timeout(15000)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on(
        "response", lambda response: response.status >= 400 and problems.append(f"{response.status} {response.url}")
    )
    return context, page, problems
