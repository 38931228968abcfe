"""What a service process does once when it starts serving."""

import logging

from django.db import DatabaseError

from containersvc.services.builds import builds_mark_interrupted

logger = logging.getLogger(__name__)


def recover_after_restart() -> None:
    """Builds that a killed process left 'running' are marked interrupted."""
    try:
        count = builds_mark_interrupted()
    except (DatabaseError, RuntimeError) as error:
        # Not migrated yet, or (while tests import the app) not open to this process: nothing to recover.
        logger.warning("Startup recovery skipped: %s", error)
        return
    if count:
        logger.warning("Marked %d build(s) interrupted by the previous service process.", count)
