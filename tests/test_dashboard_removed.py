"""A removed container's page and log download in the dashboard come from what the service stored."""

import pytest

from containersvc.models import AccessGrant, GrantLevel
from containersvc.scopes import Scope
from tests.conftest import MANAGED_LABELS, session_client, wait_for

pytestmark = pytest.mark.django_db

PRINT = ["sh", "-c", "for i in $(seq 1 30); do echo kept-$i; done; echo kept-err >&2; sleep 600"]


@pytest.fixture
def removed(api, run, name, docker_client):
    """A container run through the API, its logs stored, then removed with the docker CLI."""
    container_id = run(name, command=PRINT).json()["id"]
    container = docker_client.containers.get(container_id)
    wait_for(lambda: b"kept-err" in container.logs(), timeout=10, what="the container printed kept-err")
    assert api.post("/container-svc/logs", {"containerId": container_id}, format="json").status_code == 200
    container.remove(force=True)
    return container_id


def test_the_page_of_a_removed_container_shows_its_stored_logs(removed, owner, name):
    response = session_client(owner).get(f"/containers/{removed}/")

    assert response.status_code == 200
    page = response.content.decode()
    assert name in page and "removed" in page
    assert "kept-1" in page and "kept-30" in page and "kept-err" in page


def test_the_full_stored_log_downloads_after_removal(removed, owner):
    response = session_client(owner).get(f"/containers/{removed}/logs.txt")

    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    assert [line.split(" ", 2)[2] for line in text.splitlines() if " stdout " in line] == [
        f"kept-{i}" for i in range(1, 31)
    ]
    assert " stderr kept-err" in text


def test_without_log_view_the_stored_logs_are_not_shown(removed, make_user, name):
    viewer = make_user(Scope.CONTAINER_VIEW)
    AccessGrant.objects.create(user=viewer, level=GrantLevel.VIEW, name_prefix=name)
    client = session_client(viewer)

    page = client.get(f"/containers/{removed}/")
    assert page.status_code == 200 and name in page.content.decode()
    assert "kept-1" not in page.content.decode()
    assert client.get(f"/containers/{removed}/logs.txt").status_code == 403


def test_a_container_never_seen_is_404(make_user):
    assert session_client(make_user(*Scope)).get(f"/containers/{'a' * 64}/").status_code == 404


def test_a_removed_container_the_service_did_not_create_needs_a_superuser(docker_client, test_image, api, make_user):
    """Not even the label the service puts on its containers makes it the service's."""
    foreign = docker_client.containers.run(test_image, ["sleep", "600"], detach=True, labels=MANAGED_LABELS)
    api.post("/container-svc/containers", {}, format="json")  # the mirror sees it
    foreign.remove(force=True)
    api.post("/container-svc/containers", {}, format="json")  # and marks it removed

    assert session_client(make_user(*Scope)).get(f"/containers/{foreign.id}/").status_code == 404
    assert session_client(make_user(*Scope)).get(f"/containers/{foreign.id}/logs.txt").status_code == 404
    assert session_client(make_user(superuser=True)).get(f"/containers/{foreign.id}/").status_code == 200


def test_another_accounts_removed_container_is_404(removed, make_user):
    other = session_client(make_user(*Scope))

    assert other.get(f"/containers/{removed}/").status_code == 404
    assert other.get(f"/containers/{removed}/logs.txt").status_code == 404
