"""Assets: downloaded once into the data root and handed to the container through an env var."""

import http.server
import threading

import pytest

from containersvc import egress

pytestmark = pytest.mark.django_db
MADE_UP_NAME = "assets.example.test"


@pytest.fixture
def asset_server():
    """An HTTP server on 127.0.0.1 that counts the downloads of /model.bin (and keeps their Host headers)."""
    hits = []
    hosts = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            hosts.append(self.headers.get("Host"))
            if self.path == "/model.bin":
                body = b"weights-v1"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            elif self.path == "/moved":
                self.send_response(302)
                self.send_header("Location", "/model.bin")
                self.end_headers()
            else:
                self.send_response(404)
                self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits, hosts
    server.shutdown()
    server.server_close()


def test_asset_is_downloaded_once_and_exposed_through_the_env_var(run, name, asset_server, settings, docker_client):
    settings.CONTAINERSVC_ASSETS_ALLOW_PRIVATE = True
    base, hits, _ = asset_server
    assets = [{"envVarKey": "MODEL_PATH", "url": f"{base}/model.bin"}]

    assert run(f"{name}-a", assets=assets).status_code == 200
    assert run(f"{name}-b", assets=assets).status_code == 200

    assert hits == ["/model.bin"]
    container = docker_client.containers.get(f"{name}-b")
    env = dict(item.split("=", 1) for item in container.attrs["Config"]["Env"])
    assert container.exec_run(["cat", env["MODEL_PATH"]]).output == b"weights-v1"
    assert container.exec_run(["sh", "-c", f"echo x > {env['MODEL_PATH']}"]).exit_code != 0


def test_redirects_are_followed(run, name, asset_server, settings):
    settings.CONTAINERSVC_ASSETS_ALLOW_PRIVATE = True
    base, _, _ = asset_server

    response = run(name, assets=[{"envVarKey": "F", "url": f"{base}/moved"}])

    assert response.status_code == 200


def test_loopback_assets_are_refused_unless_allowed(run, name, asset_server, docker_client):
    base, hits, _ = asset_server

    response = run(name, assets=[{"envVarKey": "F", "url": f"{base}/model.bin"}])

    assert response.status_code == 400
    assert "non-public address" in response.json()["error"]
    assert hits == []
    assert not docker_client.containers.list(all=True, filters={"name": f"^/{name}$"})


def test_a_missing_asset_is_a_clear_400(run, name, asset_server, settings):
    settings.CONTAINERSVC_ASSETS_ALLOW_PRIVATE = True
    base, _, _ = asset_server

    response = run(name, assets=[{"envVarKey": "F", "url": f"{base}/nothing"}])

    assert response.status_code == 400
    assert "HTTP 404" in response.json()["error"]


@pytest.fixture
def made_up_name():
    """MADE_UP_NAME resolves to 127.0.0.1, through a resolver at the egress module's boundary (no DNS here)."""
    egress.set_resolver(lambda host: ["127.0.0.1"] if host == MADE_UP_NAME else [])
    yield MADE_UP_NAME
    egress.set_resolver(None)


def test_the_download_connects_to_the_checked_address_and_names_the_host(run, name, asset_server, settings,
                                                                          made_up_name):  # fmt: skip
    settings.CONTAINERSVC_ASSETS_ALLOW_PRIVATE = True
    base, hits, hosts = asset_server
    port = base.rpartition(":")[2]

    response = run(name, assets=[{"envVarKey": "F", "url": f"http://{made_up_name}:{port}/model.bin"}])

    assert response.status_code == 200, response.json()
    # The system cannot resolve the name: the connection went to the address the check returned.
    assert hits == ["/model.bin"]
    assert hosts == [f"{made_up_name}:{port}"]


def test_a_name_resolving_to_loopback_is_refused_without_a_connection(run, name, asset_server, made_up_name):
    base, hits, _ = asset_server
    port = base.rpartition(":")[2]

    response = run(name, assets=[{"envVarKey": "F", "url": f"http://{made_up_name}:{port}/model.bin"}])

    assert response.status_code == 400
    assert response.json()["error"] == (
        f"asset host '{made_up_name}' resolves to a non-public address (127.0.0.1), which is refused."
    )
    assert hits == []
