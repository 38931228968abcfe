"""Image builds from a context under the build root; the output is kept on the ImageBuild row."""

import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from containersvc import dockerfile, engine, selectors, validation
from containersvc.egress import egress_check_registry, egress_check_url
from containersvc.errors import Conflict, ContainerSvcError, EngineTimeout, InvalidRequest, NotFound
from containersvc.models import BuildStatus, ImageBuild
from containersvc.services.audit import audited

logger = logging.getLogger(__name__)
FLUSH_INTERVAL_SECONDS = 0.5
TRUNCATION_NOTE = "\n[output cut: the stored output reached its size limit]\n"
MESSAGE_CONTEXT_OUTSIDE = "contextPath must be a directory inside the build root."
MESSAGE_DOCKERFILE_OUTSIDE = "dockerfilePath must be a file inside the build context."
MESSAGE_INTERRUPTED = "The service stopped during the build; its output up to then is kept."
MESSAGE_REMOTE_CONTEXT = "contextPath must be a directory under the build root, not a URL or a git remote."
MESSAGE_DOCKERFILE_TOO_LARGE = "The Dockerfile is larger than 1 MiB."
MAX_DOCKERFILE_BYTES = 1024 * 1024
MESSAGE_CANCELLED = "cancelled by {user}"
MESSAGE_TIMED_OUT = "timed out after {seconds} s"
MESSAGE_ALREADY_FINISHED = "Build {build_id} has already ended ({status}): there is nothing to cancel."
CANCEL_POLL_SECONDS = 0.5  # how often a running build looks for a cancel asked in any process of the node
CANCEL_WAIT_SECONDS = 15  # how long a cancel waits for the build to end before answering
STEP_CONTAINER_CLEANUP_SECONDS = 10
# The classic builder names each step's container in its output; the engine labels nothing.
STEP_CONTAINER = re.compile(r"Running in ([0-9a-f]{12,64})\b")

# Observers of build output (the live dashboard); each gets (build id, text) and must not block.
output_listeners: list[Callable[[int, str], None]] = []
# Observers of a build's status changes; each gets the build row and must not block.
status_listeners: list[Callable[[ImageBuild], None]] = []


def _announce(build: ImageBuild) -> None:
    for listener in status_listeners:
        listener(build)


@dataclass(frozen=True, slots=True)
class BuildPaths:
    context_dir: Path
    dockerfile: str  # relative to the context


def build_paths(*, context_path: str, dockerfile_path: str | None) -> BuildPaths:
    """Resolve symlinks and refuse anything that lands outside the build root or the context."""
    if "://" in context_path or context_path.startswith("git@") or context_path.startswith("github.com/"):
        raise InvalidRequest(MESSAGE_REMOTE_CONTEXT)
    if not context_path or "\0" in context_path or (dockerfile_path and "\0" in dockerfile_path):
        raise InvalidRequest(MESSAGE_CONTEXT_OUTSIDE)
    root = Path(os.path.realpath(settings.BUILD_ROOT))
    context = Path(os.path.realpath(root / context_path))
    if not context.is_relative_to(root) or not context.is_dir():
        raise InvalidRequest(MESSAGE_CONTEXT_OUTSIDE)
    dockerfile = Path(os.path.realpath(context / (dockerfile_path or "Dockerfile")))
    if not dockerfile.is_relative_to(context) or not dockerfile.is_file():
        raise InvalidRequest(MESSAGE_DOCKERFILE_OUTSIDE)
    return BuildPaths(context_dir=context, dockerfile=str(dockerfile.relative_to(context)))


def build_context_shown(*, context_path: str) -> str:
    """A build's context as callers name it, relative to the build root; never the host's absolute path."""
    path, root = Path(context_path), Path(os.path.realpath(settings.BUILD_ROOT))
    return str(path.relative_to(root)) if path.is_relative_to(root) else path.name


class _OutputRecorder:
    """Appends output to the row, bounded; a flusher thread saves it every FLUSH_INTERVAL_SECONDS.

    Saving from a timer (not only when output arrives) keeps the stored output current while a step is quiet.
    """

    def __init__(self, build: ImageBuild) -> None:
        self.build = build
        self.parts: list[str] = [build.output]
        self.size = len(build.output.encode())
        self.lock = threading.Lock()
        self.dirty = False
        self.done = threading.Event()
        self.flusher = threading.Thread(target=self._flush_periodically, name=f"build-{build.pk}-flush", daemon=True)
        self.flusher.start()

    def __call__(self, text: str) -> None:
        for listener in output_listeners:
            listener(self.build.pk, text)
        with self.lock:
            if self.build.output_truncated:
                return
            encoded = len(text.encode())
            if self.size + encoded > settings.CONTAINERSVC_BUILD_OUTPUT_MAX_BYTES:
                self.parts.append(TRUNCATION_NOTE)
                self.build.output_truncated = True
            else:
                self.parts.append(text)
                self.size += encoded
            self.dirty = True

    def _flush_periodically(self) -> None:
        try:
            while not self.done.wait(FLUSH_INTERVAL_SECONDS):
                try:
                    self.flush()
                except DatabaseError:
                    # The final flush at the end of the build saves everything; a missed one loses nothing.
                    logger.warning("Could not save the output of build %s yet", self.build.pk, exc_info=True)
        finally:
            connection.close()  # the thread's own: it ends here

    def flush(self) -> None:
        with self.lock:
            if not self.dirty:
                return
            self.build.output = "".join(self.parts)
            self.parts = [self.build.output]
            self.dirty = False
            output, truncated = self.build.output, self.build.output_truncated
        ImageBuild.objects.filter(pk=self.build.pk).update(output=output, output_truncated=truncated)

    def close(self) -> None:
        self.done.set()
        self.flusher.join()
        self.flush()


def build_check_fetches(*, paths: BuildPaths) -> None:
    """The engine fetches what the Dockerfile names (base images, ADD's URLs): never from a refused address,
    as for run and pullable."""
    with open(paths.context_dir / paths.dockerfile, "rb") as file:
        text = file.read(MAX_DOCKERFILE_BYTES + 1)
    if len(text) > MAX_DOCKERFILE_BYTES:
        raise InvalidRequest(MESSAGE_DOCKERFILE_TOO_LARGE)
    fetches = dockerfile.dockerfile_fetches(text.decode(errors="replace"))
    for image in fetches.images:
        reference = validation.image_reference(image)
        if reference.registry and not engine.image_exists(reference=reference.pull_reference):
            egress_check_registry(reference.registry)
    for url in fetches.urls:
        egress_check_url(url, what="ADD")


def build_create(*, actor, name: str, context_path: str, dockerfile_path: str | None) -> ImageBuild:
    validation.image_reference(name)
    paths = build_paths(context_path=context_path, dockerfile_path=dockerfile_path)
    build_check_fetches(paths=paths)
    return ImageBuild.objects.create(
        node_id=settings.CONTAINERSVC_NODE_ID,
        tag=name,
        context_path=str(paths.context_dir),
        dockerfile_path=paths.dockerfile,
        requested_by=actor if getattr(actor, "is_authenticated", False) else None,
    )


class _BuildWatch:
    """Stops a running build when a cancel is asked (a row flag, so any process of the node may ask) or when
    its deadline (CONTAINERSVC_BUILD_TIMEOUT) passes; `reason` then says which."""

    def __init__(self, build: ImageBuild, stream: engine.BuildStream) -> None:
        self.build_id = build.pk
        self.stream = stream
        self.reason = ""
        self.timed_out = False
        self.deadline = time.monotonic() + settings.CONTAINERSVC_BUILD_TIMEOUT
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._watch, name=f"build-{build.pk}-watch", daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        try:
            while not self.done.wait(max(0.0, min(CANCEL_POLL_SECONDS, self.deadline - time.monotonic()))):
                if time.monotonic() >= self.deadline:
                    self.timed_out = True
                    self.reason = MESSAGE_TIMED_OUT.format(seconds=f"{settings.CONTAINERSVC_BUILD_TIMEOUT:g}")
                elif cancelled_by := _cancel_requested_by(self.build_id):
                    self.reason = MESSAGE_CANCELLED.format(user=cancelled_by)
                if self.reason:
                    self.stream.close()
                    return
        finally:
            connection.close()  # the thread's own: it ends here

    def stop(self) -> None:
        self.done.set()
        self.thread.join()


def _cancel_requested_by(build_id: int) -> str | None:
    try:
        row = ImageBuild.objects.filter(pk=build_id, cancel_requested_at__isnull=False).values("cancel_requested_by")
        found = row.first()
    except DatabaseError:
        logger.warning("Could not look for a cancel of build %s", build_id, exc_info=True)
        return None
    return (found["cancel_requested_by"] or "anonymous") if found else None


def _remove_step_containers(output: str) -> None:
    """Remove (with force) the step containers the build's output names, until none is left: the engine may
    still be removing one itself when a build was stopped."""
    prefixes = set(STEP_CONTAINER.findall(output))
    deadline = time.monotonic() + STEP_CONTAINER_CLEANUP_SECONDS
    try:
        while prefixes:
            found = {prefix: engine.container_ids_by_prefix(prefix=prefix) for prefix in prefixes}
            prefixes = {prefix for prefix, container_ids in found.items() if container_ids}
            for container_id in {container_id for container_ids in found.values() for container_id in container_ids}:
                try:
                    engine.container_remove(container_id=container_id, force=True)
                except (NotFound, Conflict):
                    pass  # gone already, or the engine is removing it
            if not prefixes or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    except ContainerSvcError:
        logger.warning("Could not remove the step containers of a stopped build", exc_info=True)


def build_run(*, actor, build: ImageBuild) -> ImageBuild:
    """Run the build to its end (or its deadline, or a cancel); a failure is stored on the row and raised."""
    with audited(actor=actor, action="image.build", target=build.tag) as note:
        build.status, build.started_at, build.runner_pid = BuildStatus.RUNNING, timezone.now(), os.getpid()
        build.save(update_fields=["status", "started_at", "runner_pid"])
        _announce(build)
        recorder = _OutputRecorder(build)
        watch: _BuildWatch | None = None
        try:
            if cancelled_by := _cancel_requested_by(build.pk):
                raise Conflict(MESSAGE_CANCELLED.format(user=cancelled_by))
            # The paths are checked again: the tree may have changed since the request was accepted.
            paths = build_paths(context_path=build.context_path, dockerfile_path=build.dockerfile_path)
            build_check_fetches(paths=paths)
            stream = engine.image_build_open(
                context_dir=str(paths.context_dir), dockerfile=paths.dockerfile, tag=build.tag
            )
            watch = _BuildWatch(build, stream)
            build.image_id = stream.read(on_output=recorder)
            build.status = BuildStatus.SUCCEEDED
            note["detail"] = build.image_id
        except ContainerSvcError as error:
            build.status, build.error = BuildStatus.FAILED, error.message
            if watch is not None and watch.reason:
                build.error = watch.reason
                raise (EngineTimeout if watch.timed_out else Conflict)(watch.reason) from error
            raise
        except Exception as error:
            build.status, build.error = BuildStatus.FAILED, f"Internal error: {error!r}"
            raise
        finally:
            if watch is not None:
                watch.stop()
            recorder.close()
            if build.status == BuildStatus.FAILED:
                _remove_step_containers(build.output)
            build.finished_at = timezone.now()
            build.save(update_fields=["status", "image_id", "error", "finished_at", "output", "output_truncated"])
            _announce(build)
    return build


def build_cancel(*, actor, build_id: int) -> ImageBuild:
    """Ask the build's runner (in whatever process of this node) to stop it; waits a while for it to end.

    Only whoever started the build, or a superuser, may: for anyone else it does not exist (NotFound).
    """
    with audited(actor=actor, action="image.build.cancel", target=str(build_id)) as note:
        build = selectors.build_get(build_id=build_id, actor=actor)
        note["target"] = f"{build.pk} {build.tag}"
        if build.is_finished:
            raise Conflict(MESSAGE_ALREADY_FINISHED.format(build_id=build.pk, status=build.status))
        name = actor.get_username() if getattr(actor, "is_authenticated", False) else "anonymous"
        ImageBuild.objects.filter(pk=build.pk, cancel_requested_at__isnull=True).update(
            cancel_requested_at=timezone.now(), cancel_requested_by=name
        )
        if build.runner_pid and build.node_id == settings.CONTAINERSVC_NODE_ID and not _runner_alive(build.runner_pid):
            _fail_orphan(build, MESSAGE_CANCELLED.format(user=name))
        deadline = time.monotonic() + CANCEL_WAIT_SECONDS
        while not build.is_finished and time.monotonic() < deadline:
            time.sleep(0.2)
            build.refresh_from_db()
        note["detail"] = build.status
    return build


def _runner_alive(pid: int) -> bool:
    return pid == os.getpid() or process_alive(pid)


def _fail_orphan(build: ImageBuild, reason: str) -> None:
    """A build whose runner died polls no flag: end it here, as the runner would have."""
    _remove_step_containers(build.output)
    ended = ImageBuild.objects.filter(pk=build.pk, status__in=[BuildStatus.QUEUED, BuildStatus.RUNNING]).update(
        status=BuildStatus.FAILED, error=reason, finished_at=timezone.now()
    )
    if ended:
        build.refresh_from_db()
        _announce(build)


def build_start_in_background(*, actor, build: ImageBuild) -> threading.Thread:
    """Run the build in its own thread: it goes on when the page that asked for it is left."""

    def run() -> None:
        try:
            build_run(actor=actor, build=build)
        except Exception:  # noqa: BLE001  (build_run stored the failure on the row)
            logger.info("build %s failed", build.pk)
        finally:
            connection.close()  # the thread's own: it ends here

    thread = threading.Thread(target=run, name=f"build-{build.pk}", daemon=True)
    thread.start()
    return thread


def process_alive(pid: int | None) -> bool:
    if not pid or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def builds_mark_interrupted() -> int:
    """Builds whose service process died can never finish: say so, rather than 'running' forever."""
    unfinished = ImageBuild.objects.filter(
        node_id=settings.CONTAINERSVC_NODE_ID, status__in=[BuildStatus.QUEUED, BuildStatus.RUNNING]
    )
    orphans = [build.pk for build in unfinished if not process_alive(build.runner_pid)]
    return ImageBuild.objects.filter(pk__in=orphans).update(
        status=BuildStatus.INTERRUPTED, error=MESSAGE_INTERRUPTED, finished_at=timezone.now()
    )
