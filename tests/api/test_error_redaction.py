"""Errors and build history name no host paths or internal addresses: the caller's own relative paths only."""

import re

import pytest
from django.conf import settings

from containersvc.models import ImageBuild
from containersvc.redaction import DATA_DIR_SHOWN

pytestmark = pytest.mark.django_db(transaction=True)  # builds save their output from a flusher thread
# A DNS resolver's address (IPv4, or IPv6 in brackets) and port, as the engine names it in a failed lookup; not
# any text before ":53" (a time at minute or second 53 is no host detail).
RESOLVER = re.compile(r"(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]):53(?!\d)")


def host_details_in(text: str) -> list[str]:
    roots = {str(settings.DATA_DIR), str(settings.BUILD_ROOT), str(settings.DATA_DIR.parent), "/var/lib/docker"}
    return [root for root in roots if root in text] + RESOLVER.findall(text)


def test_a_failing_keep_mount_does_not_name_the_data_root(run, name, docker_client):
    # A directory cannot be mounted onto a file: runc quotes the host directory it was given.
    response = run(name, keeps=[{"path": "/bin/busybox", "readOnly": False}])

    assert response.status_code == 400
    error = response.json()["error"]
    assert "not a directory" in error and f"{DATA_DIR_SHOWN}/keeps/{name}/" in error
    assert host_details_in(error) == []


@pytest.fixture
def context(settings):
    directory = settings.BUILD_ROOT / "team" / "app"
    directory.mkdir(parents=True)
    return directory


def build(api, **body):
    return api.put("/container-svc/image", body, format="json")


def test_a_failing_build_names_no_host_path(api, context, name, test_image):
    (context / "Dockerfile").write_text(f"FROM {test_image}\nCOPY missing /missing\n")
    tag = f"containersvc-test/broken:{name}"

    response = build(api, name=tag, contextPath="team/app")

    assert response.status_code == 400
    record = ImageBuild.objects.get(tag=tag)
    assert record.status == "failed" and "missing" in record.error
    assert host_details_in(response.json()["error"] + record.error + record.output) == []


def test_a_build_from_an_unknown_registry_names_no_resolver(api, context, name):
    (context / "Dockerfile").write_text("FROM registry.nosuch.invalid/team/base:1\n")

    response = build(api, name=f"containersvc-test/broken:{name}", contextPath="team/app")

    assert response.status_code == 400
    assert "registry.nosuch.invalid" in response.json()["error"]
    assert host_details_in(response.json()["error"]) == []


def test_build_history_shows_context_paths_relative_to_the_build_root(api, context, name, test_image):
    (context / "Dockerfile").write_text(f"FROM {test_image}\nRUN exit 3\n")
    tag = f"containersvc-test/broken:{name}"
    build(api, name=tag, contextPath="team/app")
    record = ImageBuild.objects.get(tag=tag)

    listed = next(item for item in api.get("/container-svc/image/builds").json()["builds"] if item["id"] == record.pk)
    detail = api.get(f"/container-svc/image/build/{record.pk}").json()["build"]

    assert listed["contextPath"] == detail["contextPath"] == "team/app"
    assert host_details_in(str(listed)) == [] and host_details_in(str(detail)) == []
