"""Images: pulled when missing (once, however many runs ask at the same time)."""

import threading
import zlib

from containersvc import engine
from containersvc.validation import ImageReference

_pull_locks = [threading.Lock() for _ in range(32)]


def image_ensure(*, reference: ImageReference) -> bool:
    """Pull the image unless the engine has it; True when it was pulled."""
    if engine.image_exists(reference=reference.pull_reference):
        return False
    with _pull_locks[zlib.crc32(reference.repository.encode()) % len(_pull_locks)]:
        # Whoever held the lock may have pulled it meanwhile.
        if engine.image_exists(reference=reference.pull_reference):
            return False
        engine.image_pull(repository=reference.repository, tag=reference.tag, digest=reference.digest)
    return True
