"""The OpenAPI document: JSON and YAML, the API browser, 1Backend's operation ids, and a client generated from it."""

import importlib
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from django.test import Client

pytestmark = pytest.mark.django_db

CONTRACT_OPERATIONS = {
    ("/container-svc/container", "put"): "runContainer",
    ("/container-svc/container/stop", "put"): "stopContainer",
    ("/container-svc/containers", "post"): "listContainers",
    ("/container-svc/logs", "post"): "listContainerLogs",
    ("/container-svc/container/is-running", "get"): "containerIsRunning",
    ("/container-svc/container/summary", "get"): "containerSummary",
    ("/container-svc/daemon/info", "get"): "containerDaemonInfo",
    ("/container-svc/host", "get"): "getHost",
    ("/container-svc/image/{imageName}/pullable", "get"): "imagePullable",
    ("/container-svc/image", "put"): "buildImage",
}
EXTENSION_OPERATIONS = {
    ("/container-svc/container/start", "put"): "startContainer",
    ("/container-svc/container/restart", "put"): "restartContainer",
    ("/container-svc/container/remove", "put"): "removeContainer",
    ("/container-svc/container/inspect", "get"): "inspectContainer",
    ("/container-svc/images", "get"): "listImages",
    ("/container-svc/image/builds", "get"): "listImageBuilds",
    ("/container-svc/image/build/{build_id}", "get"): "getImageBuild",
    ("/container-svc/gpus", "get"): "listGpus",
}


@pytest.fixture(scope="module")
def document(django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        return Client().get("/container-svc/openapi.json").json()


def operations(document: dict):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_the_json_url_answers_json_whatever_the_client_accepts(client):
    for accept in (None, "*/*", "application/json"):
        headers = {"HTTP_ACCEPT": accept} if accept else {}
        response = client.get("/container-svc/openapi.json", **headers)

        assert response.status_code == 200
        assert response["Content-Type"].split(";")[0] == "application/json"
        assert json.loads(response.content)["openapi"].startswith("3.")


def test_the_yaml_url_answers_the_same_document_in_yaml(client, document):
    response = client.get("/container-svc/openapi.yaml")

    assert response.status_code == 200
    assert response["Content-Type"].split(";")[0] == "application/yaml"
    assert yaml.safe_load(response.content) == document


def test_the_contract_carries_1backend_operation_ids(document):
    found = {(path, method): operation["operationId"] for path, method, operation in operations(document)}

    for key, operation_id in {**CONTRACT_OPERATIONS, **EXTENSION_OPERATIONS}.items():
        assert found.get(key) == operation_id, key


def test_every_operation_id_is_camel_case_and_unique(document):
    ids = [operation["operationId"] for _, _, operation in operations(document)]

    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z]+(?:[A-Z][a-z0-9]*)+", operation_id) for operation_id in ids), ids


def test_component_names_say_what_they_are_once(document):
    names = set(document["components"]["schemas"])

    assert {"RunContainerRequest", "RunContainerResponse", "ListContainersRequest", "ErrorResponse"} <= names
    assert not [name for name in names if "RequestRequest" in name or name.endswith("Serializer")]


def test_the_run_response_declares_what_run_sends(document):
    response = document["components"]["schemas"]["RunContainerResponse"]

    assert set(response["properties"]) == {"started", "ports", "id", "name"}
    assert set(response["required"]) == {"started", "ports", "id", "name"}


def test_every_operation_declares_its_error_body(document):
    for path, method, operation in operations(document):
        for status in ("400", "401", "403", "503"):
            schema = operation["responses"][status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, (path, method, status)


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0
        self.inline_styles = 0

    def handle_starttag(self, tag, attrs) -> None:
        attrs = dict(attrs)
        if tag == "script" and "src" not in attrs:
            self.inline_scripts += 1
        if tag == "style" or "style" in attrs:
            self.inline_styles += 1
        for key in ("src", "href"):
            if attrs.get(key):
                self.urls.append(attrs[key])


def test_the_api_browser_loads_only_its_own_assets_and_no_inline_script(client):
    response = client.get("/container-svc/docs/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = _Assets()
    page.feed(response.content.decode())
    assert page.inline_scripts == 0 and page.inline_styles == 0
    assert len(page.urls) >= 5  # icon, stylesheet, the two Swagger UI bundles, our init module
    for url in page.urls:
        assert url.startswith("/") and not url.startswith("//"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert b"".join(asset.streaming_content) if asset.streaming else asset.content
    assert any(url.endswith("api/swagger-init.js") for url in page.urls)
    assert any("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in url for url in page.urls)


def test_a_generated_client_reads_like_the_published_one(document, tmp_path, monkeypatch):
    (tmp_path / "openapi.json").write_text(json.dumps(document))
    (tmp_path / "config.yaml").write_text("post_hooks: []\npackage_name_override: container_svc_client\n")
    generator = Path(sys.executable).with_name("openapi-python-client")
    arguments = ["--path", "openapi.json", "--config", "config.yaml", "--meta", "none"]
    subprocess.run(
        [str(generator), "generate", *arguments, "--output-path", "container_svc_client"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=120,
    )
    monkeypatch.syspath_prepend(str(tmp_path))

    operations_module = importlib.import_module("container_svc_client.api.container_svc")
    modules = {path.stem for path in Path(operations_module.__file__).parent.glob("*.py")}
    expected = {re.sub(r"(?<!^)([A-Z])", r"_\1", operation_id).lower() for operation_id in CONTRACT_OPERATIONS.values()}
    assert expected <= modules
    run_container = importlib.import_module("container_svc_client.api.container_svc.run_container")
    assert callable(run_container.sync_detailed)

    models = importlib.import_module("container_svc_client.models")
    request = models.RunContainerRequest(image="nginx:1.27", names=["web"])
    assert request.to_dict() == {"image": "nginx:1.27", "names": ["web"]}
    response = models.RunContainerResponse.from_dict(
        {"started": True, "ports": [{"internal": 80, "host": 32768}], "id": "abc", "name": "web"}
    )
    assert (response.id, response.name, response.started) == ("abc", "web", True)
    assert response.ports[0].host == 32768
    assert response.additional_properties == {}
    assert not [name for name in dir(models) if "RequestRequest" in name]
