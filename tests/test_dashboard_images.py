"""The images page: pull an image and follow it on its page, run an image the node lacks (pulled first), remove
and prune with the space freed, each action only for holders of its scope."""

import os
import tempfile
import uuid
from pathlib import Path

import docker.errors
import pytest
from django.test import Client

from containersvc.models import ImagePull
from containersvc.scopes import Scope
from containersvc.services.images import MESSAGE_IMAGE_IN_USE
from tests.conftest import TEST_LABEL, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def shown_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


@pytest.fixture
def own_image(docker_client, test_image):
    """A small image of our own over the test image (a layer of random bytes); removed afterwards."""
    made: list[str] = []

    def build() -> tuple[str, str]:
        reference = f"containersvc-test/page-removable:{uuid.uuid4().hex[:12]}"
        with tempfile.TemporaryDirectory() as context:
            (Path(context) / "payload").write_bytes(os.urandom(128 * 1024))
            (Path(context) / "Dockerfile").write_text(f"FROM {test_image}\nCOPY payload /payload\n")
            image, _ = docker_client.images.build(path=context, tag=reference, rm=True, labels=TEST_LABEL)
        made.append(image.id)
        return reference, image.id

    yield build
    for image_id in made:
        try:
            docker_client.images.remove(image_id, force=True)
        except docker.errors.APIError:
            pass


def test_the_page_offers_each_action_to_holders_of_its_scope(make_user):
    viewer = logged_in(make_user(Scope.CONTAINER_VIEW)).get("/images/").content.decode()
    everything = logged_in(make_user(*Scope)).get("/images/").content.decode()

    for marker in ('id="pull-form"', 'id="prune-form"', "Removing frees"):
        assert marker not in viewer
        assert marker in everything


@pytest.mark.parametrize(
    ("path", "body", "scope"),
    [
        ("/images/pull/", {"image": "containersvc-test/busybox:latest"}, Scope.IMAGE_BUILD),
        ("/images/remove/", {"image": "containersvc-test/busybox:latest"}, Scope.CONTAINER_RUN),
        ("/images/prune/", {}, Scope.CONTAINER_RUN),
    ],
)
def test_an_action_without_its_scope_is_refused(make_user, path, body, scope):
    assert logged_in(make_user(Scope.CONTAINER_VIEW, scope)).post(path, body).status_code == 403


def test_a_pull_asked_on_the_page_opens_its_own_page_and_ends(make_user, fresh_registry_image, docker_client):
    client = logged_in(make_user(*Scope))

    response = client.post("/images/pull/", {"image": fresh_registry_image})

    assert response.status_code == 302
    pull = ImagePull.objects.get(image=fresh_registry_image)
    assert response["Location"] == f"/pulls/{pull.pk}/"
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert fresh_registry_image in page.content.decode()
    assert 'id="pull-data"' in page.content.decode()
    wait_for(lambda: ImagePull.objects.get(pk=pull.pk).is_finished, timeout=60, what="the pull to end")
    assert ImagePull.objects.get(pk=pull.pk).status == "succeeded"
    assert docker_client.images.get(fresh_registry_image)
    assert fresh_registry_image in client.get("/images/").content.decode()


def test_running_an_image_the_node_lacks_pulls_it_first_then_runs(make_user, fresh_registry_image, docker_client, name):
    client = logged_in(make_user(*Scope))

    response = client.post("/containers/run/", {"image": fresh_registry_image, "name": name})

    assert response.status_code == 302, response.content.decode()[:2000]
    pull = ImagePull.objects.get(image=fresh_registry_image)
    assert response["Location"] == f"/pulls/{pull.pk}/"
    note = wait_for(lambda: ImagePull.objects.get(pk=pull.pk).note, timeout=90, what="the run after the pull")
    assert note.startswith(f"Then started {name} ("), note
    assert docker_client.containers.get(name).status == "running"


def test_removing_on_the_page_says_what_it_freed(make_user, own_image, docker_client):
    reference, image_id = own_image()
    client = logged_in(make_user(Scope.CONTAINER_VIEW, Scope.IMAGE_BUILD))

    response = client.post("/images/remove/", {"image": reference}, follow=True)

    [message] = shown_messages(response)
    assert message.startswith(f"Removed {reference}: ") and message.endswith(" freed.")
    assert "0\xa0bytes" not in message
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(image_id)


def test_removing_an_image_in_use_on_the_page_says_who_uses_it(make_user, own_image, docker_client):
    reference, image_id = own_image()
    user = docker_client.containers.create(
        reference, ["sleep", "1"], labels=TEST_LABEL, name=f"cst-{uuid.uuid4().hex[:10]}"
    )
    try:
        response = logged_in(make_user(Scope.CONTAINER_VIEW, Scope.IMAGE_BUILD)).post(
            "/images/remove/", {"image": reference}, follow=True
        )

        assert shown_messages(response) == [MESSAGE_IMAGE_IN_USE.format(names=user.name)]
        assert docker_client.images.get(image_id)
    finally:
        user.remove(force=True)


def test_pruning_on_the_page_says_what_it_freed(make_user):
    response = logged_in(make_user(Scope.CONTAINER_VIEW, Scope.IMAGE_BUILD)).post(
        "/images/prune/", {"unused": ""}, follow=True
    )

    [message] = shown_messages(response)
    assert message.startswith("Pruned dangling images: ") and message.endswith(" freed.")
