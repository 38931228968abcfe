"""Image pullable (asked of the local registry through the engine), image list, builds."""

import os
import socket
import urllib.parse

import pytest

from containersvc.egress import MESSAGE_REGISTRY_REFUSED
from containersvc.models import ImageBuild
from tests.conftest import REGISTRY

# Builds save their output from a flusher thread, which needs committed rows.
pytestmark = pytest.mark.django_db(transaction=True)


def pullable(api, reference: str):
    return api.get(f"/container-svc/image/{urllib.parse.quote(reference, safe='')}/pullable")


def test_an_image_in_the_registry_is_pullable(api, registry_image):
    response = pullable(api, registry_image)

    assert response.status_code == 200 and response.json() == {"pullable": True}


def test_a_missing_tag_is_not_pullable(api, registry_image):
    response = pullable(api, f"{REGISTRY}/containersvc-test/busybox:no-such-tag")

    assert response.status_code == 200 and response.json() == {"pullable": False}


@pytest.fixture
def loopback_listener():
    """A TCP listener on a free 127.0.0.1 port that is not an allowed registry; counts who connected."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)

    def connections() -> int:
        count = 0
        while True:
            try:
                accepted, _ = listener.accept()
            except BlockingIOError:
                return count
            accepted.close()
            count += 1

    yield listener.getsockname()[1], connections
    listener.close()


REFUSED_PREFIX = MESSAGE_REGISTRY_REFUSED.partition("'")[0]


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "127.1:{port}", "0x7f.1:{port}"])
def test_pullable_refuses_a_loopback_registry_before_the_engine_connects(api, loopback_listener, host):
    port, connections = loopback_listener
    registry = host.format(port=port)

    response = pullable(api, f"{registry}/x")

    assert response.status_code == 400
    assert response.json()["error"].startswith(f"{REFUSED_PREFIX}'{registry}'")
    assert connections() == 0


@pytest.mark.parametrize("reference", ["169.254.169.254/x", "10.0.0.1:5000/team/app", "[::1]:5000/x", "0.0.0.0/x"])
def test_pullable_refuses_metadata_and_private_registries(api, reference):
    response = pullable(api, reference)

    assert response.status_code == 400 and "non-public address" in response.json()["error"]


def test_run_refuses_a_loopback_registry_before_the_engine_connects(run, name, loopback_listener, docker_client):
    port, connections = loopback_listener

    response = run(name, image=f"127.0.0.1:{port}/x:1")

    assert response.status_code == 400
    assert response.json()["error"].startswith(f"{REFUSED_PREFIX}'127.0.0.1:{port}'")
    assert connections() == 0
    assert not docker_client.containers.list(all=True, filters={"name": f"^/{name}$"})


def test_an_invalid_reference_is_400(api):
    response = pullable(api, "UPPER CASE")

    assert response.status_code == 400
    assert "not a valid image reference" in response.json()["error"]


def test_image_list_includes_the_test_image(api, test_image):
    response = api.get("/container-svc/images")

    assert response.status_code == 200
    assert any(test_image in image["tags"] for image in response.json()["images"])


@pytest.fixture
def context(settings, test_image):
    """A build context under the build root, based on the test image."""
    directory = settings.BUILD_ROOT / "app"
    directory.mkdir()
    (directory / "Dockerfile").write_text(f'FROM {test_image}\nRUN echo built-step > /built\nCMD ["cat", "/built"]\n')
    return directory


def build(api, **body):
    return api.put("/container-svc/image", body, format="json")


def test_build_succeeds_and_keeps_its_output(api, context, docker_client, name):
    tag = f"containersvc-test/built:{name}"

    response = build(api, name=tag, contextPath="app")

    assert response.status_code == 200, response.json()
    record = ImageBuild.objects.get(tag=tag)
    assert record.status == "succeeded" and record.image_id.startswith("sha256:")
    assert "built-step" in record.output
    assert docker_client.images.get(tag).id == record.image_id
    detail = api.get(f"/container-svc/image/build/{record.pk}").json()["build"]
    assert detail["status"] == "succeeded" and "built-step" in detail["output"]
    assert any(item["id"] == record.pk for item in api.get("/container-svc/image/builds").json()["builds"])
    docker_client.images.remove(tag, force=True)


def test_build_with_another_dockerfile_inside_the_context(api, context, docker_client, name):
    (context / "sub").mkdir()
    (context / "sub" / "Other.dockerfile").write_text((context / "Dockerfile").read_text())
    tag = f"containersvc-test/built:{name}"

    response = build(api, name=tag, contextPath=str(context), dockerfilePath="sub/Other.dockerfile")

    assert response.status_code == 200, response.json()
    docker_client.images.remove(tag, force=True)


def test_a_failing_build_answers_with_the_engines_message(api, context, name):
    (context / "Dockerfile").write_text("FROM containersvc-test/busybox:latest\nRUN exit 7\n")
    tag = f"containersvc-test/broken:{name}"

    response = build(api, name=tag, contextPath="app")

    assert response.status_code == 400
    assert "returned a non-zero code: 7" in response.json()["error"]
    record = ImageBuild.objects.get(tag=tag)
    assert record.status == "failed" and "non-zero code: 7" in record.error


@pytest.mark.parametrize(
    ("context_path", "dockerfile_path", "message"),
    [
        ("../", None, "inside the build root"),
        ("app/../..", None, "inside the build root"),
        ("/etc", None, "inside the build root"),
        ("escape-link", None, "inside the build root"),
        ("missing", None, "inside the build root"),
        ("app", "../outside.Dockerfile", "inside the build context"),
        ("app", "/etc/passwd", "inside the build context"),
        ("app", "link-out", "inside the build context"),
        ("https://example.invalid/repo.git", None, "not a URL"),
        ("git@example.invalid:repo.git", None, "not a URL"),
    ],
)
def test_context_escapes_are_refused(api, context, settings, tmp_path, context_path, dockerfile_path, message):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "Dockerfile").write_text("FROM scratch\n")
    (settings.BUILD_ROOT / "outside.Dockerfile").write_text("FROM scratch\n")
    os.symlink(outside, settings.BUILD_ROOT / "escape-link")
    os.symlink(outside / "Dockerfile", context / "link-out")
    body = {"name": "containersvc-test/escape:x", "contextPath": context_path}
    if dockerfile_path:
        body["dockerfilePath"] = dockerfile_path

    response = build(api, **body)

    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not ImageBuild.objects.exists()


def test_a_build_whose_base_image_is_on_a_loopback_registry_is_refused_before_the_engine_connects(
    api, context, loopback_listener
):
    port, connections = loopback_listener
    (context / "Dockerfile").write_text(f"ARG HOST=127.0.0.1:{port}\nFROM $HOST/x:1\nRUN true\n")

    response = build(api, name="containersvc-test/refused:x", contextPath="app")

    assert response.status_code == 400
    assert response.json()["error"].startswith(f"{REFUSED_PREFIX}'127.0.0.1:{port}'")
    assert connections() == 0
    assert not ImageBuild.objects.exists()


def test_a_build_adding_a_url_on_a_metadata_address_is_refused(api, context, test_image):
    (context / "Dockerfile").write_text(f"FROM {test_image}\nADD http://169.254.169.254/latest/meta-data /m\n")

    response = build(api, name="containersvc-test/refused:x", contextPath="app")

    assert response.status_code == 400
    assert response.json()["error"] == (
        "ADD host '169.254.169.254' resolves to a non-public address (169.254.169.254), which is refused."
    )


def test_build_needs_a_valid_tag(api, context):
    response = build(api, name="Not Valid", contextPath="app")

    assert response.status_code == 400 and "not a valid image reference" in response.json()["error"]


def test_unknown_build_is_404(api):
    assert api.get("/container-svc/image/build/999999").status_code == 404
