"""Assets: downloaded once into the data root and handed to the container through an env var."""

import datetime
import http.server
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

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


def _certificate(subject: str, key, issuer: x509.Name | None = None, issuer_key=None) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
    )
    if issuer is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    else:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


@pytest.fixture
def tls_asset_server(tmp_path):
    """An HTTPS server on 127.0.0.1 whose certificate (from a test CA) names `certified`; it keeps the names
    clients asked for (SNI) and the paths they got."""
    servers = []

    def serve(certified: str):
        ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        ca = _certificate("containersvc test CA", ca_key)
        certificate = _certificate(certified, key, issuer=ca.subject, issuer_key=ca_key)
        (tmp_path / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        (tmp_path / "server.pem").write_bytes(
            certificate.public_bytes(serialization.Encoding.PEM)
            + key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        asked, hits = [], []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tmp_path / "server.pem")
        context.sni_callback = lambda connection, server_name, _: asked.append(server_name)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return tmp_path / "ca.pem", server.server_address[1], asked, hits

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("certified", "accepted"), [(MADE_UP_NAME, True), ("someone-else.example.test", False)])
def test_https_downloads_name_the_host_in_tls_and_check_its_certificate(
    run, name, settings, made_up_name, tls_asset_server, monkeypatch, certified, accepted
):
    settings.CONTAINERSVC_ASSETS_ALLOW_PRIVATE = True
    ca, port, asked, hits = tls_asset_server(certified)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))  # OpenSSL's default trust store, read when a context is made

    response = run(name, assets=[{"envVarKey": "F", "url": f"https://{made_up_name}:{port}/model.bin"}])

    # The connection went to the checked address; the TLS name (SNI) and the certificate check used the name.
    assert asked == [made_up_name]
    if accepted:
        assert response.status_code == 200, response.json()
        assert hits == ["/model.bin"]
    else:
        assert response.status_code == 400
        assert "could not be downloaded" in response.json()["error"]
        assert hits == []
