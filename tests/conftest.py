"""Fixtures: a real Docker engine (required, never skipped), test images built FROM scratch with static
busybox, the local registry on 127.0.0.1, users holding chosen scopes, and API clients for them.

Two tiers: tests under tests/unit/ run with no engine at all (`make test-unit`); every other test gets the
engine and the test image before it starts (`engine_tier`), and fails, never skips, when no engine answers."""

import asyncio
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import docker
import docker.errors
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from rest_framework.test import APIClient

from containersvc import engine, scopes
from containersvc.producers.stats_collector import collector
from containersvc.services import mirror
from containersvc.services.accounts import token_issue

# Per test session, so that sessions running side by side never remove each other's containers.
TEST_NODE = f"cst-node-{os.getpid()}"
TEST_LABEL = {"containersvc-test": TEST_NODE}
# The service's mark on what it creates. A mark only: ownership is recorded in the database (see `container`).
MANAGED_LABELS = {**TEST_LABEL, "containersvc.managed": "true"}
# A shell command the kernel kills for lack of memory in a container allowed OOM_LIMIT_BYTES: tail keeps a "line"
# with no newline whole, and 64 MiB of zeros do not fit in 16 MiB. The container lives on a few seconds after the
# kill and ends with the killed command's status (137): the runtime of cgroup v1 engines (containerd 1.6) drops an
# OOM notice that it reads after the container's cgroup is gone (containerd#8893), and the engine then reports a
# plain exit 137. A container that ended at once with its killed command lost its OOM kill so in loaded runs.
OOM_KILLED_COMMAND = "head -c 67108864 /dev/zero | tail; killed=$?; sleep 5; exit $killed"
OOM_LIMIT_BYTES = 16 * 1024**2


def how_it_ended(found) -> str:
    """How the engine says a container (docker-py's) ended, for a failure message."""
    found.reload()
    state = found.attrs["State"]
    return f"the engine says {state['Status']}, exit code {state['ExitCode']}, OOMKilled {state['OOMKilled']}"


TEST_IMAGE = "containersvc-test/busybox:latest"
REGISTRY = os.environ.get("CONTAINERSVC_TEST_REGISTRY", "127.0.0.1:5000")
REGISTRY_IMAGE = f"{REGISTRY}/containersvc-test/busybox:pull"
BUSYBOX = "/bin/busybox"
TEST_DOCKERFILE = """FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
CMD ["sleep", "3600"]
"""


def wait_for(condition: Callable[[], object], *, timeout: float, what: str | Callable[[], str], interval: float = 0.05):
    """Poll until condition() is truthy; returns its value, or fails saying what never happened (`what` may be a
    function, asked then, to tell the state things were left in)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"within {timeout}s: {what() if callable(what) else what}")
        time.sleep(interval)


@pytest.fixture(scope="session")
def docker_client():
    """The raw engine, for setting up and checking what the service did (the service goes through engine.py)."""
    try:
        client = docker.from_env(timeout=60)
        client.ping()
    except Exception as error:
        pytest.fail(f"No Docker engine is reachable ({error}). Run scripts/ensure-services (root on Debian) first.")
    yield client
    _remove_test_containers(client)
    client.close()


def _remove_test_containers(client) -> None:
    for container in client.containers.list(all=True, filters={"label": f"containersvc.node={TEST_NODE}"}):
        container.remove(force=True)
    for container in client.containers.list(all=True, filters={"label": f"containersvc-test={TEST_NODE}"}):
        container.remove(force=True)


UNIT_TIER = Path(__file__).resolve().parent / "unit"


@pytest.fixture(autouse=True)
def engine_tier(request) -> None:
    """Outside tests/unit/, the engine and the test image (built once a session) before every test."""
    if UNIT_TIER not in request.path.resolve().parents:
        request.getfixturevalue("test_image")


@pytest.fixture(scope="session")
def test_image(docker_client) -> str:
    """The test image, FROM scratch with static busybox: sh, sleep, httpd, seq... all there."""
    _remove_test_containers(docker_client)
    with tempfile.TemporaryDirectory() as context:
        shutil.copy(BUSYBOX, Path(context) / "busybox")
        (Path(context) / "Dockerfile").write_text(TEST_DOCKERFILE)
        docker_client.images.build(path=context, tag=TEST_IMAGE, rm=True)
    return TEST_IMAGE


@pytest.fixture(scope="session")
def registry_image(docker_client, test_image) -> str:
    """The test image pushed to the local registry and removed locally, so running it pulls it."""
    image = docker_client.images.get(test_image)
    image.tag(REGISTRY_IMAGE)
    for line in docker_client.images.push(REGISTRY_IMAGE, stream=True, decode=True):
        if "error" in line:
            pytest.fail(f"Pushing to the local registry failed: {line['error']}")
    docker_client.images.remove(REGISTRY_IMAGE)
    return REGISTRY_IMAGE


@pytest.fixture(autouse=True)
def service_settings(settings, tmp_path):
    settings.CONTAINERSVC_NODE_ID = TEST_NODE
    settings.CONTAINERSVC_ALLOWED_REGISTRIES = [REGISTRY]  # the local registry is on loopback
    # Each test counts failed logins, wrong tokens and request rates afresh (the same cache, a key prefix of
    # its own): the whole suite comes from 127.0.0.1, more often than the default limits allow.
    throttle = {**settings.CACHES["throttle"], "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}
    settings.CACHES = {**settings.CACHES, "throttle": throttle}
    settings.DATA_DIR = tmp_path / "data"
    settings.BUILD_ROOT = tmp_path / "builds"
    settings.DATA_DIR.mkdir()
    settings.BUILD_ROOT.mkdir()
    yield settings
    engine.reset_clients()


_THE_TEST_ACCOUNT = object()


@pytest.fixture
def container(docker_client, test_image, request):
    """Start a test container running a shell command, with no network; removed afterwards.

    Recorded in the mirror as created by `owner` (the test's account, which `api` speaks for) as the service
    records what it runs; `owner=None`: a container the service did not create (`docker run`), or another
    user. Labelled as the service labels its containers unless `labels` says otherwise; `options`: the engine's
    own (docker-py's `create` keywords: limits, a restart policy).
    """
    started = []

    def start(command: str, labels: dict | None = None, owner=_THE_TEST_ACCOUNT, **options):
        found = docker_client.containers.create(
            test_image,
            ["sh", "-c", command],
            network_mode="none",
            labels=labels if labels is not None else MANAGED_LABELS,
            **options,
        )
        started.append(found)
        if owner is _THE_TEST_ACCOUNT:
            owner = request.getfixturevalue("owner")
        if owner is not None:
            # Before it starts, as the service records what it runs: its first events already find the owner.
            mirror.mirror_record_owner(container_id=found.id, created_by=owner)
        found.start()
        found.reload()
        return found

    yield start
    for found in started:
        try:
            found.remove(force=True)
        except docker.errors.NotFound:
            pass  # the test removed it


# Websocket clients in tests come from an allowed host, as the dashboard's pages do.
ORIGIN = (b"origin", b"http://127.0.0.1")


def session_headers(user) -> list[tuple[bytes, bytes]]:
    """Upgrade-request headers of a browser logged in as `user`."""
    client = Client()
    client.force_login(user)
    return [ORIGIN, (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]


@pytest.fixture
def viewer(owner):
    """A browser of the test's account: the `container` fixture's containers are its own."""
    return session_headers(owner)


async def wait_until(predicate: Callable[[], object], timeout: float = 10) -> bool:
    """wait_for inside a test's event loop: polls without blocking it; says whether predicate() came true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return bool(predicate())


@pytest.fixture
def fake_nvml(settings):
    """The fake NVML of tests/fake_nvml.py behind containersvc.gpu (the only real one needs a GPU)."""
    from containersvc import gpu
    from tests.fake_nvml import FakeNvml

    settings.CONTAINERSVC_GPU_NVML_TIMEOUT = 0.5
    fake = FakeNvml()
    gpu.set_nvml_loader(lambda: fake)
    yield fake
    gpu.set_nvml_loader(None)


@pytest.fixture
def stats(settings):
    """The node's collector, empty and on the cgroup files; tests drive it with collect_once()."""
    settings.CONTAINERSVC_STATS_SOURCE = "cgroup"
    collector.reset()
    yield collector
    collector.reset()


@pytest.fixture
def name() -> str:
    """A container name no other test uses."""
    return f"cst-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def make_user(db):
    def make(*granted: scopes.Scope, superuser: bool = False, username: str | None = None):
        user = get_user_model().objects.create_user(
            username=username or f"user-{uuid.uuid4().hex[:8]}",
            password="pw-for-tests",
            is_superuser=superuser,
            is_staff=superuser,
        )
        codenames = [scopes.codename(scope) for scope in granted]
        user.user_permissions.add(
            *Permission.objects.filter(content_type__app_label="containersvc", codename__in=codenames)
        )
        return get_user_model().objects.get(pk=user.pk)  # fresh: no permission cache

    return make


def session_client(user) -> Client:
    """A dashboard client logged in as `user` (the session cookie, as a browser holds it)."""
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def bearer_client():
    def client_for(user) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_issue(user=user).token}")
        return client

    return client_for


@pytest.fixture
def owner(make_user):
    """The test's account: every scope, not a superuser. `api` speaks for it; `container` runs containers as it."""
    return make_user(*scopes.Scope)


@pytest.fixture
def api(owner, bearer_client) -> APIClient:
    """A service account holding every scope, but not a superuser: the test's account (`owner`)."""
    return bearer_client(owner)


@pytest.fixture
def run(api, test_image):
    """Run a container through the API; returns the response."""

    def run_container(container_name: str, **body):
        body.setdefault("image", test_image)
        body.setdefault("names", [container_name])
        return api.put("/container-svc/container", body, format="json")

    return run_container


def pytest_collection_modifyitems(config, items) -> None:
    """Browser tests run last: Playwright's sync API holds an event loop in the main thread while the
    session's browser is open, and async_to_sync refuses to run beside it."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture
def fresh_registry_image(docker_client):
    """An image only the local registry has, with a layer of its own (12 MiB of random bytes): a pull of it
    downloads that layer, which takes long enough to be followed."""
    reference = f"{REGISTRY}/containersvc-test/pulled:p-{uuid.uuid4().hex[:12]}"
    with tempfile.TemporaryDirectory() as context:
        shutil.copy(BUSYBOX, Path(context) / "busybox")
        (Path(context) / "payload").write_bytes(os.urandom(FRESH_LAYER_BYTES))
        (Path(context) / "Dockerfile").write_text(
            'FROM scratch\nCOPY busybox /bin/busybox\nCOPY payload /payload\nCMD ["/bin/busybox", "sleep", "3600"]\n'
        )
        docker_client.images.build(path=context, tag=reference, rm=True, labels=TEST_LABEL)
    for line in docker_client.images.push(reference, stream=True, decode=True):
        if "error" in line:
            pytest.fail(f"Pushing to the local registry failed: {line['error']}")
    docker_client.images.remove(reference)
    yield reference
    try:
        docker_client.images.remove(reference, force=True)
    except docker.errors.NotFound:
        pass


FRESH_LAYER_BYTES = 12 * 1024 * 1024
