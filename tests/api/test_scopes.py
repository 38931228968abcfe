"""Every endpoint: allowed with its scope, 403 without, 401 anonymous; by bearer token and by session."""

import pytest
from rest_framework.test import APIClient

from containersvc.scopes import Scope
from tests.conftest import TEST_NODE

pytestmark = pytest.mark.django_db

# Per test session: a name held by another session's account would be a conflict (409), not a probe.
PROBE = f"cst-scope-probe-{TEST_NODE}"
# (method, path, body, scope); bodies are valid but name nothing that exists, so success is a 2xx or 404.
ENDPOINTS = [
    (
        "put",
        "/container-svc/container",
        {"image": "containersvc-test/busybox:latest", "names": [PROBE]},
        Scope.CONTAINER_RUN,
    ),
    ("put", "/container-svc/container/stop", {"name": "cst-no-such"}, Scope.CONTAINER_STOP),
    ("put", "/container-svc/container/start", {"name": "cst-no-such"}, Scope.CONTAINER_RUN),
    ("put", "/container-svc/container/restart", {"name": "cst-no-such"}, Scope.CONTAINER_RUN),
    ("put", "/container-svc/container/remove", {"name": "cst-no-such"}, Scope.CONTAINER_STOP),
    ("get", "/container-svc/container/inspect?name=cst-no-such", None, Scope.CONTAINER_VIEW),
    ("post", "/container-svc/containers", {}, Scope.CONTAINER_VIEW),
    ("post", "/container-svc/logs", {"containerId": "cst-no-such"}, Scope.LOG_VIEW),
    ("get", "/container-svc/container/is-running?name=cst-no-such", None, Scope.CONTAINER_VIEW),
    ("get", "/container-svc/container/summary?name=cst-no-such", None, Scope.CONTAINER_VIEW),
    ("get", "/container-svc/daemon/info", None, Scope.CONTAINER_VIEW),
    ("get", "/container-svc/host", None, Scope.CONTAINER_VIEW),
    ("get", "/container-svc/image/containersvc-test%2Fbusybox/pullable", None, Scope.CONTAINER_VIEW),
    ("put", "/container-svc/image", {"name": "containersvc-test/x:y", "contextPath": "no-such"}, Scope.IMAGE_BUILD),
    ("get", "/container-svc/images", None, Scope.CONTAINER_VIEW),
    ("get", "/container-svc/image/builds", None, Scope.CONTAINER_VIEW),
    ("get", "/container-svc/image/build/999999", None, Scope.CONTAINER_VIEW),
    ("put", "/container-svc/image/build/999999/cancel", None, Scope.IMAGE_BUILD),
    # Refused before any pull starts (400): a pull thread would outlive the test (tests/api/test_image_pulls.py).
    ("put", "/container-svc/image/pull", {"image": ""}, Scope.CONTAINER_RUN),
    ("get", "/container-svc/image/pulls/999999", None, Scope.CONTAINER_VIEW),
    ("put", "/container-svc/image/remove", {"image": "containersvc-test/no-such:x"}, Scope.IMAGE_BUILD),
    ("put", "/container-svc/image/prune", {"labels": [{"key": "cst-none", "value": "x"}]}, Scope.IMAGE_BUILD),
]
IDS = [f"{method} {path}" for method, path, _, _ in ENDPOINTS]


def call(client: APIClient, method: str, path: str, body):
    if body is None:
        return getattr(client, method)(path)
    return getattr(client, method)(path, body, format="json")


@pytest.fixture(autouse=True)
def remove_probe(docker_client):
    yield
    for container in docker_client.containers.list(all=True, filters={"name": f"^/{PROBE}$"}):
        container.remove(force=True)


@pytest.mark.parametrize(("method", "path", "body", "scope"), ENDPOINTS, ids=IDS)
def test_anonymous_is_401(method, path, body, scope):
    response = call(APIClient(), method, path, body)

    assert response.status_code == 401
    assert "error" in response.json()
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "path", "body", "scope"), ENDPOINTS, ids=IDS)
def test_without_the_scope_is_403(make_user, bearer_client, method, path, body, scope):
    others = [other for other in Scope if other != scope]
    response = call(bearer_client(make_user(*others)), method, path, body)

    assert response.status_code == 403
    assert scope.value in response.json()["error"]


@pytest.mark.parametrize(("method", "path", "body", "scope"), ENDPOINTS, ids=IDS)
def test_with_only_the_scope_by_bearer_token(make_user, bearer_client, method, path, body, scope):
    response = call(bearer_client(make_user(scope)), method, path, body)

    assert response.status_code not in (401, 403), response.json()
    assert response.status_code < 500


@pytest.mark.parametrize(("method", "path", "body", "scope"), ENDPOINTS, ids=IDS)
def test_with_only_the_scope_by_session_and_csrf(make_user, method, path, body, scope):
    user = make_user(scope)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/admin/login/")  # sets the CSRF cookie
    client.credentials(HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)

    response = call(client, method, path, body)

    assert response.status_code not in (401, 403), response.json()


def test_a_session_write_without_csrf_token_is_refused(make_user, name):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(make_user(*Scope))

    response = client.put("/container-svc/container/stop", {"name": name}, format="json")

    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]


def test_a_superuser_holds_every_scope(make_user, bearer_client):
    admin = bearer_client(make_user(superuser=True))

    assert admin.get("/container-svc/host").status_code == 200
    assert admin.post("/container-svc/logs", {}, format="json").status_code == 200


def test_invalid_and_malformed_tokens_are_401(make_user):
    for header in ("Bearer nope", "Bearer", "Bearer a b"):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=header)
        assert client.get("/container-svc/host").status_code == 401, header
