"""Image pulls with progress: one ImagePull row per pull, its layers kept as the engine reports them.

A pull goes through services.images.image_ensure (the registry check, and one engine pull per image however
many ask). While an image's pull runs in this process, whoever asks for the same image gets that pull's
row and waits for it, rather than a second row that would show no progress. Listeners (the live relay) hear
each change; the row is saved at most every FLUSH_INTERVAL_SECONDS while layers move, and at the end.
"""

import logging
import os
import re
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.utils import timezone

from containersvc import engine, validation
from containersvc.errors import ContainerSvcError, EngineTimeout, InvalidRequest
from containersvc.models import ImagePull, PullStatus
from containersvc.services.audit import audited
from containersvc.services.builds import process_alive
from containersvc.services.images import image_ensure

logger = logging.getLogger(__name__)
FLUSH_INTERVAL_SECONDS = 0.5
MAX_LAYERS = 256
MESSAGE_INTERRUPTED = "The service stopped during the pull."
MESSAGE_ALREADY_PRESENT = "The image was already on the node."
LAYER_ID = re.compile(r"[0-9a-f]{12,64}")

# Observers of every pull's changes (the live dashboard); each gets the row and must not block.
listeners: list[Callable[[ImagePull], None]] = []
# Pulls running in this process, by image reference: (pull id, set when it ends).
_running: dict[str, tuple[int, threading.Event]] = {}
_running_lock = threading.Lock()


def _announce(pull: ImagePull) -> None:
    for listener in listeners:
        listener(pull)


class _Recorder:
    """Takes the engine's progress lines into the row: saved and announced at most every flush interval."""

    def __init__(self, pull: ImagePull) -> None:
        self.pull = pull
        self.saved_at = 0.0

    def __call__(self, progress: engine.PullProgress) -> None:
        layers = self.pull.layers
        if LAYER_ID.fullmatch(progress.layer):
            layer = layers.get(progress.layer)
            if layer is None:
                if len(layers) >= MAX_LAYERS:
                    return
                layer = layers[progress.layer] = {"status": "", "current": 0, "total": 0}
            layer["status"] = progress.status
            if progress.status == "Downloading":
                layer["current"] = progress.current
                layer["total"] = progress.total or layer["total"]
        elif progress.status:
            self.pull.message = progress.status[:512]
        if time.monotonic() - self.saved_at >= FLUSH_INTERVAL_SECONDS:
            self.save()

    def save(self) -> None:
        self.saved_at = time.monotonic()
        ImagePull.objects.filter(pk=self.pull.pk).update(layers=self.pull.layers, message=self.pull.message)
        _announce(self.pull)


def pull_create(*, actor, image: str) -> tuple[ImagePull, bool]:
    """A new pull of the image, or the one already running for it in this process; True when new."""
    reference = validation.image_reference(image)
    key = reference.pull_reference
    with _running_lock:
        running = _running.get(key)
        if running is not None:
            return ImagePull.objects.get(pk=running[0]), False
        pull = ImagePull.objects.create(
            node_id=settings.CONTAINERSVC_NODE_ID,
            image=key,
            requested_by=actor if getattr(actor, "is_authenticated", False) else None,
            runner_pid=os.getpid(),
        )
        _running[key] = (pull.pk, threading.Event())
    _announce(pull)
    return pull, True


def pull_run(*, actor, pull: ImagePull) -> ImagePull:
    """Run a pull made by pull_create to its end; a failure is stored on the row and raised."""
    recorder = _Recorder(pull)
    try:
        with audited(actor=actor, action="image.pull", target=pull.image) as note:
            try:
                pulled = image_ensure(reference=validation.image_reference(pull.image), on_progress=recorder)
                pull.status = PullStatus.SUCCEEDED
                if not pulled:
                    pull.message = MESSAGE_ALREADY_PRESENT
                note["detail"] = pull.message
            except ContainerSvcError as error:
                pull.status, pull.error = PullStatus.FAILED, error.message
                raise
            except Exception as error:
                pull.status, pull.error = PullStatus.FAILED, f"Internal error: {error!r}"
                raise
            finally:
                pull.finished_at = timezone.now()
                pull.save(update_fields=["status", "layers", "message", "error", "finished_at"])
    finally:
        with _running_lock:
            running = _running.pop(pull.image, None)
        if running is not None:
            running[1].set()
        _announce(pull)
    return pull


def pull_wait(*, pull: ImagePull) -> ImagePull:
    """Wait for a pull running in this process to end; the row as it ended (a failure is raised)."""
    with _running_lock:
        running = _running.get(pull.image)
    if running is not None and running[0] == pull.pk:
        if not running[1].wait(settings.CONTAINERSVC_PULL_TIMEOUT):
            raise EngineTimeout()
    pull.refresh_from_db()
    if pull.status != PullStatus.SUCCEEDED:
        raise InvalidRequest(pull.error or MESSAGE_INTERRUPTED)
    return pull


def pull_ensure(*, actor, reference: validation.ImageReference) -> ImagePull | None:
    """What run does: nothing when the engine has the image, else a pull followed live (or joined) to its end."""
    if engine.image_exists(reference=reference.pull_reference):
        return None
    pull, new = pull_create(actor=actor, image=reference.pull_reference)
    if new:
        return pull_run(actor=actor, pull=pull)
    return pull_wait(pull=pull)


def pull_start_in_background(
    *, actor, pull: ImagePull, new: bool = True, then: Callable[[], str] | None = None
) -> threading.Thread:
    """Run the pull in its own thread (or, not new, wait there for the one running): it goes on when the page
    that asked is left. After a successful pull, `then` runs and what it says is kept as the pull's note."""

    def run() -> None:
        try:
            if new:
                pull_run(actor=actor, pull=pull)
            else:
                pull_wait(pull=pull)
        except Exception:  # noqa: BLE001  (pull_run stored the failure on the row)
            logger.info("pull %s of %s failed", pull.pk, pull.image)
        else:
            if then is not None:
                _note(pull, then)
        finally:
            connection.close()  # the thread's own: it ends here

    thread = threading.Thread(target=run, name=f"pull-{pull.pk}", daemon=True)
    thread.start()
    return thread


def _note(pull: ImagePull, then: Callable[[], str]) -> None:
    try:
        note = then()
    except ContainerSvcError as error:
        note = f"Then: {error.message}"
    pull.note = note[:512]
    ImagePull.objects.filter(pk=pull.pk).update(note=pull.note)
    _announce(pull)


def pulls_mark_interrupted() -> int:
    """Pulls whose service process died can never finish: say so, rather than 'running' forever."""
    unfinished = ImagePull.objects.filter(node_id=settings.CONTAINERSVC_NODE_ID, status=PullStatus.RUNNING)
    orphans = [pull.pk for pull in unfinished if not process_alive(pull.runner_pid)]
    return ImagePull.objects.filter(pk__in=orphans).update(
        status=PullStatus.INTERRUPTED, error=MESSAGE_INTERRUPTED, finished_at=timezone.now()
    )
