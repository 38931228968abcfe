"""A service process killed (SIGKILL) during a build: the next one marks the build interrupted."""

import os
import signal
import subprocess
import sys

import pytest
from django.db import connection

from containersvc.models import BuildStatus, ImageBuild
from containersvc.services.builds import builds_mark_interrupted
from tests.conftest import TEST_NODE, wait_for

BUILD_IN_A_CHILD = """
import django
django.setup()
from containersvc.services.builds import build_create, build_run
build = build_create(actor=None, name="containersvc-test/slow:interrupted", context_path="slow", dockerfile_path=None)
build_run(actor=None, build=build)
"""


@pytest.mark.django_db(transaction=True)
def test_a_build_whose_process_was_killed_is_marked_interrupted(settings, test_image):
    context = settings.BUILD_ROOT / "slow"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {test_image}\nRUN echo before-the-wait && sleep 20\n")
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{connection.settings_dict['NAME']}",
        "CONTAINERSVC_BUILD_ROOT": str(settings.BUILD_ROOT),
        "CONTAINERSVC_DATA_DIR": str(settings.DATA_DIR),
        "CONTAINERSVC_NODE_ID": TEST_NODE,
        "DJANGO_SETTINGS_MODULE": "containersvc.settings",
    }
    child = subprocess.Popen([sys.executable, "-c", BUILD_IN_A_CHILD], env=env)
    try:
        build = wait_for(
            lambda: ImageBuild.objects.filter(
                tag="containersvc-test/slow:interrupted", status=BuildStatus.RUNNING, output__contains="before-the-wait"
            ).first(),
            timeout=60,
            what="the build got going",
            interval=0.2,
        )
        assert builds_mark_interrupted() == 0  # its process is alive: not ours to mark

        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)

        assert builds_mark_interrupted() == 1
    finally:
        child.kill()
    build.refresh_from_db()
    assert build.status == BuildStatus.INTERRUPTED
    assert "stopped during the build" in build.error
    assert "before-the-wait" in build.output
