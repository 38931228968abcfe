"""Removing and pruning images: the space each frees, refused (409) while a container uses the image, audited,
and only for image:build holders."""

import os
import tempfile
import uuid
from pathlib import Path

import docker.errors
import pytest
from rest_framework.test import APIClient

from containersvc.models import AuditEvent
from containersvc.scopes import Scope
from containersvc.services.images import MESSAGE_IMAGE_IN_USE
from tests.conftest import TEST_LABEL

pytestmark = pytest.mark.django_db
PAYLOAD_BYTES = 256 * 1024


@pytest.fixture
def build_image(docker_client, test_image):
    """Build a small image of our own: a layer of random bytes over the test image, with the given labels."""
    made: list[str] = []

    def build(tag: str, labels: dict | None = None) -> str:
        with tempfile.TemporaryDirectory() as context:
            (Path(context) / "payload").write_bytes(os.urandom(PAYLOAD_BYTES))
            (Path(context) / "Dockerfile").write_text(f"FROM {test_image}\nCOPY payload /payload\n")
            image, _ = docker_client.images.build(
                path=context, tag=tag, rm=True, labels={**TEST_LABEL, **(labels or {})}
            )
        made.append(image.id)
        return image.id

    yield build
    for image_id in made:
        try:
            docker_client.images.remove(image_id, force=True)
        except docker.errors.APIError:
            pass  # removed by the test, or still used by a container the test made


@pytest.fixture
def builder(make_user, bearer_client):
    return bearer_client(make_user(Scope.IMAGE_BUILD, Scope.CONTAINER_VIEW))


def tag() -> str:
    return f"containersvc-test/removable:{uuid.uuid4().hex[:12]}"


def test_removing_an_image_deletes_it_and_says_what_it_freed(builder, build_image, docker_client):
    reference = tag()
    image_id = build_image(reference)

    response = builder.put("/container-svc/image/remove", {"image": reference}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert image_id in body["deleted"]
    assert body["untagged"] == [reference]
    assert body["spaceFreedBytes"] >= PAYLOAD_BYTES
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(image_id)
    assert AuditEvent.objects.filter(action="image.remove", target=reference, outcome="ok").exists()


def test_an_image_a_container_uses_is_not_removed(builder, build_image, docker_client):
    reference = tag()
    image_id = build_image(reference)
    user = docker_client.containers.create(
        reference, ["sleep", "1"], labels=TEST_LABEL, name=f"cst-{uuid.uuid4().hex[:10]}"
    )
    try:
        response = builder.put("/container-svc/image/remove", {"image": reference}, format="json")

        assert response.status_code == 409
        assert response.json()["error"] == MESSAGE_IMAGE_IN_USE.format(names=user.name)
        assert docker_client.images.get(image_id)
        assert AuditEvent.objects.filter(action="image.remove", target=reference, outcome="error").exists()
    finally:
        user.remove(force=True)


def test_removing_one_of_two_tags_only_untags(builder, build_image, docker_client):
    first, second = tag(), tag()
    image_id = build_image(first)
    docker_client.images.get(image_id).tag(second)

    body = builder.put("/container-svc/image/remove", {"image": second}, format="json").json()

    assert body == {"deleted": [], "untagged": [second], "spaceFreedBytes": 0}
    assert docker_client.images.get(image_id).tags == [first]


def test_pruning_dangling_images_deletes_them_and_says_what_it_freed(builder, build_image, docker_client):
    marker = {"containersvc-test-prune": uuid.uuid4().hex}
    reference = tag()
    dangling = build_image(reference, marker)
    kept = build_image(reference, marker)  # takes the tag: the first one dangles

    response = builder.put(
        "/container-svc/image/prune",
        {"labels": [{"key": key, "value": value} for key, value in marker.items()]},
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert dangling in body["deleted"]
    assert kept not in body["deleted"]
    assert body["spaceFreedBytes"] >= PAYLOAD_BYTES
    assert docker_client.images.get(kept)
    assert AuditEvent.objects.filter(action="image.prune", target="dangling", outcome="ok").exists()


def test_pruning_unused_images_spares_those_in_use(builder, build_image, docker_client):
    marker = {"containersvc-test-prune": uuid.uuid4().hex}
    unused, used = build_image(tag(), marker), build_image(tag(), marker)
    user = docker_client.containers.create(used, ["sleep", "1"], labels=TEST_LABEL)
    try:
        body = builder.put(
            "/container-svc/image/prune",
            {"unused": True, "labels": [{"key": key, "value": value} for key, value in marker.items()]},
            format="json",
        ).json()

        assert unused in body["deleted"]
        assert used not in body["deleted"]
        assert docker_client.images.get(used)
    finally:
        user.remove(force=True)


@pytest.mark.parametrize(("path", "body"), [("image/remove", {"image": "nothing/here:1"}), ("image/prune", {})])
def test_removing_and_pruning_need_image_build(make_user, bearer_client, path, body):
    url = f"/container-svc/{path}"

    assert APIClient().put(url, body, format="json").status_code == 401
    assert (
        bearer_client(make_user(Scope.CONTAINER_RUN, Scope.CONTAINER_STOP)).put(url, body, format="json").status_code
        == 403
    )
    allowed = bearer_client(make_user(Scope.IMAGE_BUILD)).put(url, body, format="json")
    assert allowed.status_code in {200, 404}  # the image to remove does not exist


def test_a_bad_reference_is_refused_before_the_engine(builder):
    response = builder.put("/container-svc/image/remove", {"image": "UPPER/Case"}, format="json")

    assert response.status_code == 400
