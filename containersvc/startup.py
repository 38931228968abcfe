"""What a service process does once when it starts serving."""

import logging
import sys
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor

from containersvc.services.builds import builds_mark_interrupted

logger = logging.getLogger(__name__)
SERVER_PROGRAMS = frozenset({"daphne", "uvicorn", "gunicorn"})


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


def producers_wanted(argv: list[str] | None = None) -> bool:
    """Whether this process runs the always-on producers: the server does; tests and commands do not."""
    choice = settings.CONTAINERSVC_PRODUCERS
    if choice in {"1", "true", "yes", "on"}:
        return True
    if choice in {"0", "false", "no", "off"}:
        return False
    argv = sys.argv if argv is None else argv
    program = Path(argv[0]).name if argv else ""
    return program in SERVER_PROGRAMS or (program == "manage.py" and "runserver" in argv[1:2])


def _database_ready() -> bool:
    try:
        executor = MigrationExecutor(connection)
        return not executor.migration_plan(executor.loader.graph.leaf_nodes())
    except (DatabaseError, RuntimeError) as error:
        logger.warning("Database not ready: %s", error)
        return False
    finally:
        connection.close()  # the threads open their own; this one must not linger in the server's thread


def start_always_on_producers() -> bool:
    """Follow engine events (the mirror) and capture managed containers' logs for the life of the process.

    Cheap here: the threads do the engine work. Nothing starts on a database that is not migrated, since
    every row they write would fail; the next process start after `migrate` starts them.
    """
    if not _database_ready():
        logger.warning("Producers not started: apply the migrations (manage.py migrate) and restart.")
        return False
    from containersvc.producers.container_status import producer
    from containersvc.producers.log_capture import capture

    capture.start()
    producer.add_listener(capture.on_engine_event)
    producer.run_always()
    logger.info("Following engine events for the mirror, and capturing the logs of managed containers.")
    return True


def stop_always_on_producers() -> None:
    """The reverse of start_always_on_producers() (tests)."""
    from containersvc.producers.container_status import producer
    from containersvc.producers.log_capture import capture

    producer.stop_always()
    producer.remove_listener(capture.on_engine_event)
    capture.stop()
