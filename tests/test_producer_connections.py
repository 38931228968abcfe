"""A producer thread keeps its database connection from round to round, and connects afresh after an error."""

import threading

import pytest
from django.db import DatabaseError, connection

from containersvc.models import Container
from containersvc.producers.connections import refresh_connections


def _in_a_thread(work):
    """Run `work` on a thread of its own (as a producer does: its own connection), returning what it returned."""
    outcome = {}

    def run():
        try:
            outcome["value"] = work()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    return outcome["value"]


@pytest.mark.django_db(transaction=True)
def test_a_producer_keeps_its_connection_across_rounds():
    def rounds():
        Container.objects.exists()
        first = connection.connection
        refresh_connections()
        Container.objects.exists()
        return first is not None and connection.connection is first

    assert _in_a_thread(rounds), "the second round reused the first round's connection"


@pytest.mark.django_db(transaction=True)
def test_a_producer_connects_afresh_after_an_error_on_its_connection():
    def rounds():
        Container.objects.exists()
        first = connection.connection
        with pytest.raises(DatabaseError), connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")
        refresh_connections()
        dropped = connection.connection is None
        assert Container.objects.exists() is False  # the next query connects again
        return dropped and connection.connection is not first and not connection.errors_occurred

    assert _in_a_thread(rounds)
