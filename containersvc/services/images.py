"""Images: pulled when missing (once, however many runs ask at the same time), from allowed registries only."""

import threading
import zlib

from containersvc import engine
from containersvc.egress import EgressUnresolvable, egress_check_registry
from containersvc.validation import ImageReference

_pull_locks = [threading.Lock() for _ in range(32)]


def image_ensure(*, reference: ImageReference) -> bool:
    """Pull the image unless the engine has it; True when it was pulled."""
    if engine.image_exists(reference=reference.pull_reference):
        return False
    # The engine connects to the registry the reference names: never to a refused address.
    egress_check_registry(reference.registry)
    with _pull_locks[zlib.crc32(reference.repository.encode()) % len(_pull_locks)]:
        # Whoever held the lock may have pulled it meanwhile.
        if engine.image_exists(reference=reference.pull_reference):
            return False
        engine.image_pull(repository=reference.repository, tag=reference.tag, digest=reference.digest)
    return True


def image_pullable(*, reference: ImageReference) -> bool:
    """Ask the image's own registry, through the engine, unless its host is refused (InvalidRequest)."""
    try:
        egress_check_registry(reference.registry)
    except EgressUnresolvable:
        return False  # the engine could not reach it either
    return engine.image_pullable(reference=reference.pull_reference)
