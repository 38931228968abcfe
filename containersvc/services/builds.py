"""Image builds from a context under the build root; the output is kept on the ImageBuild row."""

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections
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


class _OutputRecorder:
    """Appends output to the row, bounded, flushing at most every FLUSH_INTERVAL_SECONDS."""

    def __init__(self, build: ImageBuild) -> None:
        self.build = build
        self.parts: list[str] = [build.output]
        self.size = len(build.output.encode())
        self.last_flush = time.monotonic()

    def __call__(self, text: str) -> None:
        for listener in output_listeners:
            listener(self.build.pk, text)
        if self.build.output_truncated:
            return
        encoded = len(text.encode())
        if self.size + encoded > settings.CONTAINERSVC_BUILD_OUTPUT_MAX_BYTES:
            self.parts.append(TRUNCATION_NOTE)
            self.build.output_truncated = True
        else:
            self.parts.append(text)
            self.size += encoded
        if time.monotonic() - self.last_flush > FLUSH_INTERVAL_SECONDS:
            self.flush()

    def flush(self) -> None:
        self.build.output = "".join(self.parts)
        self.parts = [self.build.output]
        ImageBuild.objects.filter(pk=self.build.pk).update(
            output=self.build.output, output_truncated=self.build.output_truncated
        )
        self.last_flush = time.monotonic()


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
        build.status, build.started_at = BuildStatus.RUNNING, timezone.now()
        build.save(update_fields=["status", "started_at"])
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
            recorder.flush()
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


def builds_mark_interrupted() -> int:
    """Builds left running by a process that died can never finish: say so."""
    return ImageBuild.objects.filter(
        node_id=settings.CONTAINERSVC_NODE_ID, status__in=[BuildStatus.QUEUED, BuildStatus.RUNNING]
    ).update(status=BuildStatus.INTERRUPTED, error="The service stopped during the build.", finished_at=timezone.now())
