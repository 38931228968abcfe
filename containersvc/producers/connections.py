"""A producer thread's database connection: kept from round to round, dropped once something went wrong on it.

A request ends with close_old_connections(), which closes the connection once CONN_MAX_AGE has passed (at
once when it is 0); a producer that did the same every round could open a connection a round (SQLite's is set
up anew, with Django's SQL functions registered on it; PostgreSQL's is a login), which was a quarter of the
stats collector's CPU. Its thread instead keeps its connection, and closes it only after an error on it or a
transaction left open, so that the next query connects afresh (a database that went away and came back is
found again), and when the thread ends.
"""

from django.db import connections


def refresh_connections() -> None:
    """Before a producer's round, where a request would call close_old_connections()."""
    for wrapper in connections.all(initialized_only=True):
        if wrapper.connection is None:
            continue
        if wrapper.errors_occurred or wrapper.get_autocommit() != wrapper.settings_dict["AUTOCOMMIT"]:
            wrapper.close()
