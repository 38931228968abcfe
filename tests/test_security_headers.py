"""Security headers: every page and every API answer carries the CSP and friends, and none may be stored by a
cache except static files and the OpenAPI document."""

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from containersvc.models import BuildStatus, ImageBuild
from containersvc.security_headers import CACHEABLE_URL_NAMES, CONTENT_SECURITY_POLICY

pytestmark = pytest.mark.django_db

CONTAINER_ID = "0" * 64  # one that does not exist: the 'gone' page and the API's 404 are answers too
# A value for each URL parameter; a new parameter name fails the test below until it is given one here.
PARAMETERS = {
    "container_id": CONTAINER_ID,
    "build_id": "build",
    "imageName": "busybox:latest",
    "pull_id": 999999,
    "token": "no-such-token",
}


def named_urls(patterns=None, namespace: str = "") -> dict[str, set[str]]:
    """Every named URL of the service (the admin's own pages but two left out) with its parameter names."""
    found = {"admin:index": set(), "admin:login": set()}
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver) and pattern.namespace != "admin":
            inner = f"{pattern.namespace}:" if pattern.namespace else namespace
            found |= named_urls(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            found[namespace + pattern.name] = set(pattern.pattern.regex.groupindex)
    return found


NAMED_URLS = named_urls()


def test_every_url_parameter_has_a_value():
    assert set().union(*NAMED_URLS.values()) <= set(PARAMETERS)


@pytest.fixture
def superuser_client(make_user) -> Client:
    client = Client()
    client.force_login(make_user(superuser=True))
    return client


@pytest.fixture
def build() -> ImageBuild:
    # Ended: cancelling it (a POST below) answers at once instead of waiting for it to stop.
    return ImageBuild.objects.create(
        node_id=settings.CONTAINERSVC_NODE_ID,
        tag="t:1",
        context_path=str(settings.BUILD_ROOT),
        status=BuildStatus.FAILED,
    )


def url_of(name: str, build: ImageBuild) -> str:
    values = {key: build.pk if value == "build" else value for key, value in PARAMETERS.items()}
    return reverse(name, kwargs={key: values[key] for key in NAMED_URLS[name]})


def assert_protected(response, cacheable: bool = False) -> None:
    assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    if cacheable:
        assert "no-store" not in response.get("Cache-Control", "")
    else:
        assert response["Cache-Control"] == "no-store"


def resolved(name: str) -> str:
    return name.rpartition(":")[2]


def test_every_page_and_api_answer_has_the_headers(superuser_client, build):
    # One test for all (a test's database setup costs more than its requests); each URL is named on failure.
    for name in sorted(NAMED_URLS):
        url = url_of(name, build)
        for method in ("get", "post"):
            response = getattr(superuser_client, method)(url, {}, content_type="application/json")
            assert response.status_code < 500, (name, method, url, response.status_code)
            assert_protected(response, cacheable=resolved(name) in CACHEABLE_URL_NAMES)


def test_pages_carrying_env_and_logs_are_no_store(container, superuser_client):
    found = container("echo SECRET-LINE; sleep 600")
    client = superuser_client

    for response in [
        client.get(reverse("dashboard:container", kwargs={"container_id": found.id})),
        client.get(reverse("dashboard:container-logs", kwargs={"container_id": found.id})),
        client.post("/container-svc/logs", {"containerId": found.id}, content_type="application/json"),
        client.get(f"/container-svc/container/inspect?id={found.id}"),
    ]:
        assert response.status_code == 200
        assert_protected(response)


def test_anonymous_and_refused_answers_have_the_headers(make_user):
    for response in [
        Client().post("/container-svc/containers", {}, content_type="application/json"),
        Client().get("/"),
        Client().get("/no-such-page/"),
    ]:
        assert_protected(response)


def test_static_files_may_be_cached(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path / "static"
    call_command("collectstatic", interactive=False, verbosity=0)

    response = Client().get("/static/dashboard/app.css")

    assert response.status_code == 200
    assert_protected(response, cacheable=True)
