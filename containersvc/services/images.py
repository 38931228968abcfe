"""Images: pulled when missing (once, however many runs ask at the same time), from allowed registries only."""

import re
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from containersvc import engine, validation
from containersvc.egress import EgressUnresolvable, egress_check_registry
from containersvc.errors import Conflict
from containersvc.services.audit import audited
from containersvc.validation import ImageReference

_pull_locks = [threading.Lock() for _ in range(32)]


def image_ensure(
    *, reference: ImageReference, on_progress: Callable[[engine.PullProgress], None] | None = None
) -> bool:
    """Pull the image unless the engine has it, handing progress to on_progress; True when it was pulled."""
    if engine.image_exists(reference=reference.pull_reference):
        return False
    # The engine connects to the registry the reference names: never to a refused address.
    egress_check_registry(reference.registry)
    with _pull_locks[zlib.crc32(reference.repository.encode()) % len(_pull_locks)]:
        # Whoever held the lock may have pulled it meanwhile.
        if engine.image_exists(reference=reference.pull_reference):
            return False
        engine.image_pull(
            repository=reference.repository, tag=reference.tag, digest=reference.digest, on_progress=on_progress
        )
    return True


def image_pullable(*, reference: ImageReference) -> bool:
    """Ask the image's own registry, through the engine, unless its host is refused (InvalidRequest)."""
    try:
        egress_check_registry(reference.registry)
    except EgressUnresolvable:
        return False  # the engine could not reach it either
    return engine.image_pullable(reference=reference.pull_reference)


MESSAGE_IMAGE_IN_USE = "The image is used by container(s) {names}: remove them first."
IMAGE_ID = re.compile(r"(sha256:)?[0-9a-f]{12,64}")


@dataclass(frozen=True, slots=True)
class ImageRemoved:
    deleted: tuple[str, ...]
    untagged: tuple[str, ...]
    space_freed_bytes: int


def image_remove(*, actor, image: str) -> ImageRemoved:
    """Remove an image by reference or id; refused (409) while a container, running or not, uses it.

    A reference that is not the image's last tag is only untagged: that frees nothing and is never refused.
    """
    if not IMAGE_ID.fullmatch(image):
        validation.image_reference(image)
    with audited(actor=actor, action="image.remove", target=image) as note:
        found = engine.image_inspect(reference=image)
        only_untags = image in found.tags and len(found.tags) > 1
        if not only_untags:
            users = engine.image_users(image_id=found.id)
            if users:
                names = ", ".join(sorted(user.name or user.id[:12] for user in users))
                raise Conflict(MESSAGE_IMAGE_IN_USE.format(names=names))
        usage = None if only_untags else engine.image_usage().get(found.id)
        removal = engine.image_remove(reference=image)
        freed = usage.unique_bytes if usage is not None and found.id in removal.deleted else 0
        note["detail"] = f"{len(removal.deleted)} deleted, {freed} bytes freed"
        return ImageRemoved(deleted=removal.deleted, untagged=removal.untagged, space_freed_bytes=freed)


def images_prune(*, actor, unused: bool, labels: dict[str, str] | None = None) -> engine.ImagePrune:
    """Delete the dangling images (untagged, used by none) or, with unused, every image no container uses."""
    with audited(actor=actor, action="image.prune", target="unused" if unused else "dangling") as note:
        result = engine.image_prune(dangling_only=not unused, labels=labels)
        note["detail"] = f"{len(result.deleted)} deleted, {result.space_reclaimed_bytes} bytes freed"
        return result
