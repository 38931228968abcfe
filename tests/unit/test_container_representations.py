"""The list's rows in the API shape, reused from the previous list only while a row's stored version holds."""

from datetime import timedelta

from django.utils import timezone

from containersvc.api.serializers import ContainerRepresentations, ContainerSerializer
from containersvc.models import Container


def a_row(**changes) -> Container:
    values = {
        "pk": 7, "node_id": "node", "container_id": "a" * 64, "name": "web", "names": ["web"], "image": "img:1",
        "ports": [{"internal": 80, "host": 8080, "protocol": "tcp"}], "labels": {"team": "x"}, "envs": [],
        "keeps": [], "assets": [], "volumes": [], "state": "running", "status": "Up 5 seconds",
        "updated_at": timezone.now(), "engine_created_at": timezone.now(),
    }  # fmt: skip
    return Container(**{**values, **changes})


def test_a_row_unchanged_since_the_last_list_is_shown_with_its_new_status_line():
    shown = ContainerRepresentations()
    first = a_row()
    shown.of([first])
    later = a_row(updated_at=first.updated_at, engine_created_at=first.engine_created_at, status="Up 6 seconds")
    assert shown.of([later]) == [ContainerSerializer().to_representation(later)]


def test_a_row_written_since_is_shown_afresh():
    shown = ContainerRepresentations()
    first = a_row()
    shown.of([first])
    # A write moves the version: then the whole row is shown afresh, not only its status line.
    renamed = a_row(names=["api"], state="exited", updated_at=first.updated_at + timedelta(microseconds=1))
    assert shown.of([renamed]) == [ContainerSerializer().to_representation(renamed)]
    assert shown.of([renamed])[0]["names"] == ["api"]


def test_rows_not_yet_stored_are_shown_but_not_held():
    shown = ContainerRepresentations()
    unsaved = a_row(pk=None)
    assert shown.of([unsaved]) == [ContainerSerializer().to_representation(unsaved)]
    assert shown.of([a_row(pk=None, status="Exited (1)")])[0]["statusText"] == "Exited (1)"
