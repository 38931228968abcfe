"""What a service process does once when it starts serving."""

import logging
import sys
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor

from containersvc.errors import ContainerSvcError
from containersvc.services.builds import builds_mark_interrupted
from containersvc.services.pulls import pulls_mark_interrupted

logger = logging.getLogger(__name__)
SERVER_PROGRAMS = frozenset({"daphne", "uvicorn", "gunicorn"})


def recover_after_restart() -> None:
    """Builds and pulls that a killed process left 'running' are marked interrupted."""
    try:
        count = builds_mark_interrupted()
        pulls = pulls_mark_interrupted()
    except (DatabaseError, RuntimeError) as error:
        # Not migrated yet, or (while tests import the app) not open to this process: nothing to recover.
        logger.warning("Startup recovery skipped: %s", error)
        return
    if count:
        logger.warning("Marked %d build(s) interrupted by the previous service process.", count)
    if pulls:
        logger.warning("Marked %d pull(s) interrupted by the previous service process.", pulls)


def is_server_process(argv: list[str] | None = None) -> bool:
    """Whether this process serves (daphne, uvicorn, gunicorn, runserver) rather than tests or commands."""
    argv = sys.argv if argv is None else argv
    program = Path(argv[0]).name if argv else ""
    return program in SERVER_PROGRAMS or (program == "manage.py" and "runserver" in argv[1:2])


def producers_wanted(argv: list[str] | None = None) -> bool:
    """Whether this process runs the always-on producers: the server does; tests and commands do not."""
    choice = settings.CONTAINERSVC_PRODUCERS
    if choice in {"1", "true", "yes", "on"}:
        return True
    if choice in {"0", "false", "no", "off"}:
        return False
    return is_server_process(argv)


def server_url(argv: list[str] | None = None) -> str:
    """Where this server answers, from its command line (daphne -b/-p, uvicorn --host/--port, runserver)."""
    argv = sys.argv if argv is None else argv
    host, port = "127.0.0.1", "8000"
    if Path(argv[0]).name == "manage.py" and len(argv) > 2 and not argv[2].startswith("-"):
        host, _, port = argv[2].rpartition(":")
        host, port = host or "127.0.0.1", port or "8000"
    for index, argument in enumerate(argv[1:], start=1):
        name, equals, value = argument.partition("=")
        if not equals:
            value = argv[index + 1] if index + 1 < len(argv) else ""
        if name in {"-b", "--bind", "--host"}:
            host = value
        elif name in {"-p", "--port"}:
            port = value
    host = host.strip("[]")
    if host in {"", "0.0.0.0", "::"}:  # noqa: S104  (read, not bound)
        host = "127.0.0.1"  # bound everywhere: loopback is one of them
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def first_admin_announce(argv: list[str] | None = None) -> str | None:
    """At a server's start: create the admin the environment names; while no superuser exists, print a
    one-time link to the page that creates one. Returns the link printed, if any."""
    from containersvc.services import accounts

    if not _database_ready():
        return None
    try:
        accounts.admin_from_settings_ensure()
        token = accounts.setup_token_issue()
    except ContainerSvcError as error:
        logger.error("%s", error.message)
        return None
    except DatabaseError as error:
        logger.warning("No setup link: %s", error)
        return None
    finally:
        connection.close()
    if token is None:
        return None
    link = f"{server_url(argv)}/setup/{token}/"
    # Printed, not logged: it is for the person at the console, and log collectors need not keep it.
    print(f"\nNo admin yet. Create the first one here (the link works once):\n    {link}\n", flush=True)
    return link


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
    """Follow engine events (the mirror), capture managed containers' logs and sample every running container's
    resources, for the life of the process.

    Cheap here: the threads do the engine work. Nothing starts on a database that is not migrated, since
    every row they write would fail; the next process start after `migrate` starts them.
    """
    if not _database_ready():
        logger.warning("Producers not started: apply the migrations (manage.py migrate) and restart.")
        return False
    from containersvc.producers.container_status import producer
    from containersvc.producers.log_capture import capture
    from containersvc.producers.stats_collector import collector

    capture.start()
    producer.add_listener(capture.on_engine_event)
    producer.run_always()
    collector.start()
    logger.info("Following engine events for the mirror, capturing the logs of managed containers, sampling stats.")
    return True


def stop_always_on_producers() -> None:
    """The reverse of start_always_on_producers() (tests)."""
    from containersvc.producers.container_status import producer
    from containersvc.producers.log_capture import capture
    from containersvc.producers.stats_collector import collector

    producer.stop_always()
    producer.remove_listener(capture.on_engine_event)
    capture.stop()
    collector.stop()
