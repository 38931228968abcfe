"""Whether the engine and the database answer: cheap probes for /healthz and the dashboard's banner."""

import threading
import time

from django.db import DatabaseError, connection

from containersvc import engine
from containersvc.errors import ContainerSvcError

_lock = threading.Lock()
_engine_checked: tuple[float, str, str] | None = None  # (monotonic time, engine address, problem or "")


def engine_problem(*, max_age: float = 0.0) -> str:
    """Why the engine is not usable ("" when it answers), from a probe at most max_age seconds old.

    One probe at a time per process: callers arriving meanwhile wait for its answer instead of piling up.
    """
    global _engine_checked
    with _lock:
        now, address = time.monotonic(), engine.address()
        if _engine_checked is not None and now - _engine_checked[0] <= max_age and _engine_checked[1] == address:
            return _engine_checked[2]
        try:
            engine.probe()
            problem = ""
        except ContainerSvcError as error:
            problem = error.message
        _engine_checked = (time.monotonic(), address, problem)
        return problem


def database_reachable() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except DatabaseError:
        return False
