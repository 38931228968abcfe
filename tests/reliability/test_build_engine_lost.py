"""The engine killed in the middle of a build: the build ends failed with a clear error, watchers are told."""

import pytest

from containersvc.models import BuildStatus, ImageBuild
from containersvc.services import builds
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_build_whose_engine_dies_fails_cleanly_and_says_why(settings, on_second_engine, test_image, monkeypatch):
    context = settings.BUILD_ROOT / "slow"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {test_image}\nRUN echo before-the-wait && sleep 30\n")
    told: list[str] = []
    monkeypatch.setattr(builds, "status_listeners", [lambda build: told.append(build.status)])
    build = builds.build_create(actor=None, name="containersvc-test/slow:engine-lost", context_path="slow",
                                dockerfile_path=None)  # fmt: skip
    thread = builds.build_start_in_background(actor=None, build=build)
    wait_for(lambda: "before-the-wait" in ImageBuild.objects.get(pk=build.pk).output, timeout=30,
             what="the build to get going", interval=0.1)  # fmt: skip

    on_second_engine.kill()
    thread.join(timeout=15)

    assert not thread.is_alive(), "the build must end when its engine goes away, not hang"
    build.refresh_from_db()
    assert build.status == BuildStatus.FAILED
    assert "went away during a stream" in build.error, build.error
    assert "before-the-wait" in build.output
    assert told == [BuildStatus.RUNNING, BuildStatus.FAILED]
    on_second_engine.start()
