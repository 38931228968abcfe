"""Image builds from a context under the build root; the output is kept on the ImageBuild row."""

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from containersvc import engine, validation
from containersvc.errors import ContainerSvcError, InvalidRequest
from containersvc.models import BuildStatus, ImageBuild
from containersvc.services.audit import audited

logger = logging.getLogger(__name__)
FLUSH_INTERVAL_SECONDS = 0.5
TRUNCATION_NOTE = "\n[output cut: the stored output reached its size limit]\n"
MESSAGE_CONTEXT_OUTSIDE = "contextPath must be a directory inside the build root."
MESSAGE_DOCKERFILE_OUTSIDE = "dockerfilePath must be a file inside the build context."
MESSAGE_INTERRUPTED = "The service stopped during the build; its output up to then is kept."
MESSAGE_REMOTE_CONTEXT = "contextPath must be a directory under the build root, not a URL or a git remote."

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
            close_old_connections()

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


def build_create(*, actor, name: str, context_path: str, dockerfile_path: str | None) -> ImageBuild:
    validation.image_reference(name)
    paths = build_paths(context_path=context_path, dockerfile_path=dockerfile_path)
    return ImageBuild.objects.create(
        node_id=settings.CONTAINERSVC_NODE_ID,
        tag=name,
        context_path=str(paths.context_dir),
        dockerfile_path=paths.dockerfile,
        requested_by=actor if getattr(actor, "is_authenticated", False) else None,
    )


def build_run(*, actor, build: ImageBuild) -> ImageBuild:
    """Run the build to its end; a failure is stored on the row and raised."""
    with audited(actor=actor, action="image.build", target=build.tag) as note:
        build.status, build.started_at, build.runner_pid = BuildStatus.RUNNING, timezone.now(), os.getpid()
        build.save(update_fields=["status", "started_at", "runner_pid"])
        _announce(build)
        recorder = _OutputRecorder(build)
        try:
            # The paths are checked again: the tree may have changed since the request was accepted.
            paths = build_paths(context_path=build.context_path, dockerfile_path=build.dockerfile_path)
            build.image_id = engine.image_build(
                context_dir=str(paths.context_dir), dockerfile=paths.dockerfile, tag=build.tag, on_output=recorder
            )
            build.status = BuildStatus.SUCCEEDED
            note["detail"] = build.image_id
        except ContainerSvcError as error:
            build.status, build.error = BuildStatus.FAILED, error.message
            raise
        except Exception as error:
            build.status, build.error = BuildStatus.FAILED, f"Internal error: {error!r}"
            raise
        finally:
            recorder.close()
            build.finished_at = timezone.now()
            build.save(update_fields=["status", "image_id", "error", "finished_at", "output", "output_truncated"])
            _announce(build)
    return build


def build_start_in_background(*, actor, build: ImageBuild) -> threading.Thread:
    """Run the build in its own thread: it goes on when the page that asked for it is left."""

    def run() -> None:
        try:
            build_run(actor=actor, build=build)
        except Exception:  # noqa: BLE001  (build_run stored the failure on the row)
            logger.info("build %s failed", build.pk)
        finally:
            close_old_connections()

    thread = threading.Thread(target=run, name=f"build-{build.pk}", daemon=True)
    thread.start()
    return thread


def _process_alive(pid: int | None) -> bool:
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
    orphans = [build.pk for build in unfinished if not _process_alive(build.runner_pid)]
    return ImageBuild.objects.filter(pk__in=orphans).update(
        status=BuildStatus.INTERRUPTED, error=MESSAGE_INTERRUPTED, finished_at=timezone.now()
    )
