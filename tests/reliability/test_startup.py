"""The always-on producers start in the server process only, never because a test imported the app."""

import importlib

import pytest

from containersvc.producers import container_status, log_capture
from containersvc.startup import producers_wanted


@pytest.mark.parametrize(
    ("choice", "argv", "wanted"),
    [
        ("auto", ["/srv/app/.venv/bin/daphne", "-b", "127.0.0.1", "containersvc.asgi:application"], True),
        ("auto", ["manage.py", "runserver"], True),
        ("auto", ["/srv/app/.venv/bin/pytest", "tests"], False),
        ("auto", ["manage.py", "migrate"], False),
        ("0", ["/srv/app/.venv/bin/daphne"], False),
        ("1", ["/srv/app/.venv/bin/pytest"], True),
    ],
)
def test_producers_run_in_the_server_process(settings, choice, argv, wanted):
    settings.CONTAINERSVC_PRODUCERS = choice

    assert producers_wanted(argv) is wanted


def test_importing_the_asgi_app_starts_no_threads():
    importlib.import_module("containersvc.asgi")

    assert not container_status.producer.threads()
    assert not log_capture.capture.threads()
