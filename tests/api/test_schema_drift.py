"""Every response is declared as sent: each URL pattern of the API is called (a superuser's token, valid input,
the real engine) and the keys of what comes back must match the document's schema for that operation and
status, recursively. A pattern this test does not know how to call fails it, by name: a new endpoint gets a
caller here, and so its responses are checked from the start."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
from django.test import Client
from django.urls import URLPattern
from rest_framework.test import APIClient

from containersvc.api import urls as api_urls
from tests.openapi_drift import drift

pytestmark = pytest.mark.django_db(transaction=True)
PREFIX = "/container-svc/"
# The document and its browser: tests/api/test_openapi.py covers them.
NOT_OPERATIONS = {"openapi", "openapi-yaml", "api-docs"}


@dataclass
class Call:
    method: str
    body: dict | Callable[[], dict] | None = None  # JSON body, or the query string of a GET; made when sent
    status: int = 200


@dataclass
class Context:
    """What the calls need, made once with the real engine."""

    image: str
    registry_image: str
    name: str  # a running container
    other: str  # a container the lifecycle calls stop, start, restart and remove
    build_id: int = 0
    pull_id: int = 0
    removable: str = ""
    build_tag: str = field(default_factory=lambda: f"containersvc-test/drift:{uuid.uuid4().hex[:8]}")
    run_id: str = ""
    kwargs: dict = field(default_factory=dict)


def calls_for(ctx: Context) -> dict[str, list[Call]]:
    """By URL pattern name, in the order they run (the lifecycle of `other` last)."""
    return {
        "container-run": [Call("put", {"image": ctx.image, "names": [ctx.name], "hash": "drift"})],
        "container-is-running": [Call("get", {"name": ctx.name})],
        "container-summary": [Call("get", {"name": ctx.name, "lines": 5})],
        "container-inspect": [Call("get", {"name": ctx.name})],
        "container-list": [Call("post", {"limit": 5})],
        "log-list": [Call("post", lambda: {"containerId": ctx.run_id, "limit": 5})],
        "daemon-info": [Call("get")],
        "host": [Call("get")],
        "gpu-list": [Call("get")],
        "image-list": [Call("get")],
        "image-build": [Call("put", {"name": ctx.build_tag, "contextPath": "drift"})],
        "build-list": [Call("get")],
        "build-detail": [Call("get")],
        "build-cancel": [Call("put", status=409)],  # the build has ended
        "image-pullable": [Call("get")],
        "image-pull": [Call("put", {"image": ctx.image}, status=202)],
        "image-pull-detail": [Call("get")],
        "image-remove": [Call("put", {"image": ctx.removable})],
        "image-prune": [Call("put", {"labels": [{"key": "containersvc-test-drift", "value": uuid.uuid4().hex}]})],
        "container-stats-list": [Call("get")],
        "container-stats-history": [Call("get", {"name": ctx.name})],
        "node-stats": [Call("get")],
        "node-stats-recent": [Call("get")],
        "container-stop": [Call("put", {"name": ctx.other})],
        "container-start": [Call("put", {"name": ctx.other})],
        "container-restart": [Call("put", {"name": ctx.other, "timeout": 1})],
        "container-remove": [Call("put", {"name": ctx.other, "force": True})],
    }


def _template(pattern: URLPattern) -> str:
    """The document's path for a pattern: <int:build_id> -> {build_id}."""
    route = str(pattern.pattern)
    for converter in ("int:", "path:", "str:", "slug:", "uuid:"):
        route = route.replace(f"<{converter}", "<")
    return PREFIX + route.replace("<", "{").replace(">", "}")


def _url(pattern: URLPattern, ctx: Context) -> str:
    route = _template(pattern)
    for key, value in ctx.kwargs.items():
        route = route.replace("{" + key + "}", str(value))
    assert "{" not in route, f"no value for a parameter of {route}: add it to Context.kwargs"
    return route


@pytest.fixture
def context(docker_client, test_image, registry_image, container, settings) -> Context:
    running = container("sleep 3600")
    other = container("sleep 3600")
    build_dir = Path(settings.BUILD_ROOT) / "drift"
    build_dir.mkdir()
    (build_dir / "Dockerfile").write_text(f"FROM {test_image}\nLABEL containersvc-test-drift=1\n")
    removable = f"containersvc-test/drift-removable:{uuid.uuid4().hex[:8]}"
    docker_client.images.get(test_image).tag(removable)
    return Context(
        image=test_image, registry_image=registry_image, name=running.name, other=other.name, removable=removable
    )


def test_every_endpoint_answers_what_the_document_declares(context, make_user, bearer_client, docker_client):
    document = Client().get("/container-svc/openapi.json").json()
    client = bearer_client(make_user(superuser=True))
    calls = calls_for(context)
    patterns = [pattern for pattern in api_urls.urlpatterns if pattern.name not in NOT_OPERATIONS]
    unknown = sorted(pattern.name for pattern in patterns if pattern.name not in calls)
    assert not unknown, f"URL patterns this test does not know how to call (add them to calls_for): {unknown}"

    # The run container takes the name `context.name` over: our first container gives it up.
    docker_client.containers.get(context.name).remove(force=True)
    by_name = {pattern.name: pattern for pattern in patterns}
    problems, called = [], set()
    for name, pattern_calls in calls.items():
        if name not in by_name:
            continue  # an endpoint another branch adds
        pattern = by_name[name]
        for call in pattern_calls:
            context.kwargs["imageName"] = quote(context.registry_image, safe="")
            response = _send(client, call, _url(pattern, context))
            assert response.status_code == call.status, (name, response.status_code, response.content[:500])
            body = response.json()
            if name == "container-run":
                context.run_id = body["id"]
            if name == "image-build":
                context.kwargs["build_id"] = body["buildId"]
            if name == "image-pull":
                context.kwargs["pull_id"] = body["pull"]["id"]
            problems += _check(document, _template(pattern), call.method, call.status, body, name)
            anonymous = _send(APIClient(), call, _url(pattern, context))
            assert anonymous.status_code == 401, name
            problems += _check(document, _template(pattern), call.method, 401, anonymous.json(), f"{name} (anonymous)")
            called.add((_template(pattern), call.method))

    docker_client.images.remove(context.build_tag)
    assert not problems, "\n".join(problems)
    declared = {(path, method) for path, item in document["paths"].items() for method in item}
    assert declared == called, f"operations never called: {sorted(declared - called)}"


def _send(client: APIClient, call: Call, url: str):
    body = (call.body() if callable(call.body) else call.body) or {}
    if call.method == "get":
        return client.get(url, body)
    return getattr(client, call.method)(url, body, format="json")


def _check(document: dict, path: str, method: str, status: int, body, where: str) -> list[str]:
    operation = document["paths"].get(path, {}).get(method)
    if operation is None:
        return [f"{where}: {method.upper()} {path} is not in the document"]
    response = operation["responses"].get(str(status))
    if response is None:
        return [f"{where}: status {status} of {method.upper()} {path} is not declared"]
    return drift(document, response["content"]["application/json"]["schema"], body, where)


def test_drift_finds_a_key_sent_but_not_declared_and_one_declared_but_not_sent():
    document = Client().get("/container-svc/openapi.json").json()
    schema = {"$ref": "#/components/schemas/RunContainerResponse"}
    sent = {"started": True, "ports": [{"internal": 80, "host": 1, "extra": 1}], "id": "x", "surprise": 1}

    assert drift(document, schema, sent, "run") == [
        "run.surprise: sent, not declared",
        "run.name: declared required, not sent",
        "run.ports[].extra: sent, not declared",
    ]
