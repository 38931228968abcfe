"""The always-on producers start in the server process only, never because a test imported the app."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from containersvc.startup import producers_wanted

PROJECT_ROOT = Path(__file__).resolve().parents[2]


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


def test_importing_the_asgi_app_starts_no_threads(tmp_path):
    """A fresh interpreter that imports the app as a test or a command would (not a server) starts no producer;
    in this process, other tests' sockets may still hold the shared producers, so it is checked apart."""
    script = (
        "import containersvc.asgi\n"
        "from containersvc.producers import container_status, log_capture\n"
        "print(len(container_status.producer.threads()), len(log_capture.capture.threads()))\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "containersvc.settings",
        "CONTAINERSVC_DATA_DIR": str(tmp_path),
        "CONTAINERSVC_PRODUCERS": "auto",
    }
    # On a migrated database, where the server would start them (an unmigrated one starts nothing anyway).
    migrate = [sys.executable, "manage.py", "migrate", "--noinput", "-v0"]
    subprocess.run(migrate, env=env, cwd=PROJECT_ROOT, capture_output=True, timeout=300, check=True)
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["0", "0"], result.stdout + result.stderr
