"""Dashboard pages through Django's test client: login, scopes refused by the server, the run form's errors."""

import pytest
from django.test import Client

from containersvc import engine
from containersvc.models import AccessGrant, GrantLevel
from containersvc.scopes import Scope
from tests.conftest import TEST_LABEL, session_client, wait_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def running(container):
    """A container of the test's account (`owner`) that has printed to both streams."""
    found = container("echo hello-out; echo hello-err >&2; sleep 600")
    wait_for(lambda: b"hello-err" in found.logs(), timeout=10, what="the container printed")
    return found


def view_grant(user) -> None:
    """`view` on the test's containers (they carry TEST_LABEL), given by an admin."""
    key, value = next(iter(TEST_LABEL.items()))
    AccessGrant.objects.create(user=user, level=GrantLevel.VIEW, label_selector=f"{key}={value}")


def test_pages_need_a_login():
    response = Client().get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.parametrize("path", ["/", "/images/", "/node/", "/gpus/", "/audit/"])
def test_pages_render_for_a_viewer(make_user, path):
    assert session_client(make_user(*Scope)).get(path).status_code == 200


@pytest.mark.parametrize("path", ["/", "/images/", "/node/", "/gpus/", "/audit/"])
def test_pages_refuse_a_user_without_container_view(make_user, path):
    assert session_client(make_user(Scope.LOG_VIEW)).get(path).status_code == 403


def test_the_run_form_is_shown_only_with_the_run_scope(make_user):
    assert b'id="run"' in session_client(make_user(*Scope)).get("/").content
    assert b'id="run"' not in session_client(make_user(Scope.CONTAINER_VIEW)).get("/").content


def test_run_is_refused_without_the_scope(make_user, name, test_image, docker_client):
    client = session_client(make_user(Scope.CONTAINER_VIEW, Scope.CONTAINER_STOP))
    response = client.post("/containers/run/", {"image": test_image, "name": name})
    assert response.status_code == 403
    assert not docker_client.containers.list(all=True, filters={"name": f"^/{name}$"})


@pytest.mark.parametrize(
    ("field", "data"),
    [
        ("ports", {"ports": "8080:x"}),
        ("envs", {"envs": "NO_EQUALS_SIGN"}),
        ("image", {"image": "UPPER CASE"}),
        ("name", {"name": "-bad"}),
        ("keeps", {"keeps": "/a\n/a"}),
        ("assets", {"assets": "MODEL=ftp://example.invalid/x"}),
    ],
)
def test_run_form_errors_are_shown_next_to_their_field(make_user, test_image, field, data):
    body = {"image": test_image, **data}
    response = session_client(make_user(*Scope)).post("/containers/run/", body)
    assert response.status_code == 400
    assert f'id="id_{field}-error"'.encode() in response.content


def test_container_page_shows_inspect_data_and_the_log_viewer_only_with_log_view(owner, make_user, running):
    page = session_client(owner).get(f"/containers/{running.id}/")
    assert page.status_code == 200 and b'id="log"' in page.content
    view_only = make_user(Scope.CONTAINER_VIEW)
    view_grant(view_only)
    no_logs = session_client(view_only).get(f"/containers/{running.id}/")
    assert no_logs.status_code == 200 and b'id="log"' not in no_logs.content and b'id="no-logs"' in no_logs.content


def test_log_download_streams_both_streams_and_needs_log_view(owner, make_user, running):
    response = session_client(owner).get(f"/containers/{running.id}/logs.txt")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    assert " stdout hello-out" in text and " stderr hello-err" in text
    refused = session_client(make_user(Scope.CONTAINER_VIEW)).get(f"/containers/{running.id}/logs.txt")
    assert refused.status_code == 403


def test_build_is_refused_without_the_build_scope(make_user):
    response = session_client(make_user(Scope.CONTAINER_VIEW)).post("/images/", {"name": "x/y:z", "context_path": "a"})
    assert response.status_code == 403


def test_node_page_shows_a_banner_while_the_engine_is_unreachable(make_user, settings, tmp_path):
    settings.CONTAINERSVC_DOCKER_HOST = f"unix://{tmp_path}/no-engine.sock"
    engine.reset_clients()
    page = session_client(make_user(*Scope)).get("/node/")
    assert page.status_code == 200
    banner_tag = page.content.split(b'id="engine-banner"')[1].split(b">")[0]
    assert b"hidden" not in banner_tag
    assert b"The Docker engine is unavailable" in page.content


def test_node_page_shows_engine_version_host_and_gpus(make_user, settings):
    settings.CONTAINERSVC_HOST_ADDRESS = "10.1.2.3"
    page = session_client(make_user(Scope.CONTAINER_VIEW)).get("/node/").content.decode()
    assert "Engine version" in page and "10.1.2.3" in page
    assert 'id="gpus"' in page
