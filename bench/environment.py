"""The ground every benchmark stands on: a throwaway database and data directory, an account, an image.

`prepare()` must run before anything imports Django models: it sets the environment the settings read
(CONTAINERSVC_DATA_DIR, DATABASE_URL, the node id), sets Django up and migrates the temporary database.
"""

import os
import shutil
import signal
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import docker

if TYPE_CHECKING:  # importing it at run time would need the settings prepare() sets up
    from rest_framework.test import APIClient

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_ROOT = REPO_ROOT / "var" / "bench"
BENCH_LABEL = "containersvc-bench"
IMAGE = "containersvc-bench/busybox:latest"
BUSYBOX = Path("/bin/busybox")
DOCKERFILE = """FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
CMD ["sleep", "3600"]
"""


@dataclass(frozen=True, slots=True)
class Bench:
    """What a benchmark needs: the API as a service account sees it, and the raw engine beside it."""

    run_id: str
    workdir: Path
    api: "APIClient"  # authenticated with a bearer token
    token: str
    raw: docker.APIClient
    image: str

    @property
    def labels(self) -> dict[str, str]:
        return {BENCH_LABEL: self.run_id}


def _interrupt_on_sigterm() -> None:
    """A SIGTERM unwinds like Ctrl-C, so that the `finally` blocks still remove what was created."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def prepare() -> tuple[str, Path]:
    """Point Django at a fresh SQLite database under var/bench/, set it up and migrate; returns (run id, dir)."""
    _interrupt_on_sigterm()
    run_id = uuid.uuid4().hex[:8]
    BENCH_ROOT.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=f"run-{run_id}-", dir=BENCH_ROOT))
    data_dir = workdir / "data"
    data_dir.mkdir()
    os.environ["DJANGO_SETTINGS_MODULE"] = "containersvc.settings"
    os.environ["CONTAINERSVC_DATA_DIR"] = str(data_dir)
    os.environ["DATABASE_URL"] = f"sqlite:///{data_dir / 'bench.sqlite3'}"
    os.environ["CONTAINERSVC_NODE_ID"] = f"bench-{run_id}"
    os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.pop("REDIS_URL", None)

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    return run_id, workdir


def account_token(run_id: str) -> str:
    """A service account holding every scope (not a superuser), and a bearer token for it. The containers the
    raw engine makes for the comparison are nobody's: a grant on the run's label lets the account operate all of
    the run's containers, so the API's side pays for the ownership rule as a real service account does."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    from containersvc import scopes
    from containersvc.models import AccessGrant, GrantLevel
    from containersvc.services.accounts import token_issue

    user = get_user_model().objects.create_user(username="bench")
    codenames = [scopes.codename(scope) for scope in scopes.Scope]
    granted = Permission.objects.filter(content_type__app_label="containersvc", codename__in=codenames)
    user.user_permissions.add(*granted)
    AccessGrant.objects.create(user=user, level=GrantLevel.OPERATE, label_selector=f"{BENCH_LABEL}={run_id}")
    return token_issue(user=user).token


def admin():
    """A superuser (made once per run): the stats benchmarks watch containers nobody owns, which only it sees."""
    from django.contrib.auth import get_user_model

    found = get_user_model().objects.filter(username="bench-admin").first()
    return found or get_user_model().objects.create_superuser(username="bench-admin", password=None)


def admin_token() -> str:
    from containersvc.services.accounts import token_issue

    return token_issue(user=admin()).token


def raw_client() -> docker.APIClient:
    from django.conf import settings

    client = docker.APIClient(base_url=settings.CONTAINERSVC_DOCKER_HOST, version="auto", timeout=120)
    client.ping()
    return client


def image_build(raw: docker.APIClient, workdir: Path) -> str:
    """The image every benchmark container runs: FROM scratch with static busybox (no registry needed)."""
    if not BUSYBOX.exists():
        raise SystemExit(f"{BUSYBOX} is missing: install a static busybox (Debian: busybox-static) first.")
    context = workdir / "image"
    context.mkdir()
    shutil.copy(BUSYBOX, context / "busybox")
    (context / "Dockerfile").write_text(DOCKERFILE)
    for event in raw.build(path=str(context), tag=IMAGE, rm=True, decode=True):
        if "error" in event:
            raise SystemExit(f"Building {IMAGE} failed: {event['error']}")
    return IMAGE


def make(run_id: str, workdir: Path) -> Bench:
    from rest_framework.test import APIClient

    token = account_token(run_id)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    raw = raw_client()
    return Bench(run_id=run_id, workdir=workdir, api=api, token=token, raw=raw, image=image_build(raw, workdir))


def containers_remove(bench: Bench) -> int:
    """Remove every container this run made (by its label), whoever made it: the API or the raw engine."""
    from concurrent.futures import ThreadPoolExecutor

    found = bench.raw.containers(all=True, filters={"label": f"{BENCH_LABEL}={bench.run_id}"})
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda entry: _remove_quietly(bench.raw, entry["Id"]), found))
    return len(found)


def _remove_quietly(raw: docker.APIClient, container_id: str) -> None:
    try:
        raw.remove_container(container_id, force=True)
    except docker.errors.NotFound:
        pass
