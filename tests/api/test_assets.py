"""Assets: downloaded once into the data root and handed to the container through an env var."""

import http.server
import threading

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def asset_server():
    """An HTTP server on 127.0.0.1 that counts the downloads of /model.bin."""
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
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
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


def test_asset_is_downloaded_once_and_exposed_through_the_env_var(run, name, asset_server, settings, docker_client):
    settings.CONTAINERSVC_ASSETS_ALLOW_PRIVATE = True
    base, hits = asset_server
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
    base, _ = asset_server

    response = run(name, assets=[{"envVarKey": "F", "url": f"{base}/moved"}])

    assert response.status_code == 200


def test_loopback_assets_are_refused_unless_allowed(run, name, asset_server, docker_client):
    base, hits = asset_server

    response = run(name, assets=[{"envVarKey": "F", "url": f"{base}/model.bin"}])

    assert response.status_code == 400
    assert "non-public address" in response.json()["error"]
    assert hits == []
    assert not docker_client.containers.list(all=True, filters={"name": f"^/{name}$"})


def test_a_missing_asset_is_a_clear_400(run, name, asset_server, settings):
    settings.CONTAINERSVC_ASSETS_ALLOW_PRIVATE = True
    base, _ = asset_server

    response = run(name, assets=[{"envVarKey": "F", "url": f"{base}/nothing"}])

    assert response.status_code == 400
    assert "HTTP 404" in response.json()["error"]
