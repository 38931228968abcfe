"""Env values are masked in one place (access.envs_masked): the inspect the API and the dashboard show through
selectors.container_details masks them as the list does, for the same viewers, with no engine."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from containersvc import access, engine, selectors
from containersvc.api.serializers import container_json, inspected_container_json
from containersvc.engine import ContainerDetails, EngineContainer
from containersvc.models import Container

AT = timezone.now()
ENVS = (("API_KEY", "hunter2"), ("EMPTY", ""), ("MODE", "a=b"))


def details() -> ContainerDetails:
    summary = EngineContainer(
        id="c" * 64, names=("web",), image="img:1", image_id="sha256:" + "d" * 64, state="running", status="Up",
        labels={}, ports=(), created_at=AT, network_mode="bridge", ip_address="", mac_address="",
        volumes=(),
    )  # fmt: skip
    return ContainerDetails(
        summary=summary, envs=ENVS, exit_code=None, started_at=AT, finished_at=None, restart_count=0,
        oom_killed=False, error="", command=(), runtime="runc", gpu_enabled=False, cpu_shares=0, memory_bytes=0,
        mounts=(), nano_cpus=0, pids_limit=0,
    )  # fmt: skip


@pytest.fixture
def inspected(monkeypatch):
    """The engine's inspect answers `details()`; `asked` counts the calls."""

    class Inspect:
        asked = 0

    def container_inspect(*, container_id: str) -> ContainerDetails:
        Inspect.asked += 1
        return details()

    monkeypatch.setattr(engine, "container_inspect", container_inspect)
    return Inspect


def user(pk: int, *, superuser: bool = False):
    return get_user_model()(pk=pk, username=f"user{pk}", is_active=True, is_superuser=superuser)


def row(owner_pk: int) -> Container:
    return Container(
        node_id="node", container_id="c" * 64, name="web", created_by_id=owner_pk,
        envs=[{"key": key, "value": value} for key, value in ENVS],
    )  # fmt: skip


@pytest.mark.parametrize(("viewer", "masked"), [(user(1), False), (user(9, superuser=True), False), (user(2), True)])
def test_inspect_masks_as_the_list_does(inspected, viewer, masked):
    owned = row(owner_pk=1)

    shown = inspected_container_json(selectors.container_details(actor=viewer, container_id="c" * 64, row=owned))

    listed = container_json(owned)["envs"]
    expected = access.envs_masked(listed) if masked else listed
    assert shown["envs"] == expected
    assert [item["key"] for item in shown["envs"]] == [key for key, _ in ENVS]
    assert masked == all(item["value"] == access.MASKED_VALUE for item in shown["envs"])
    assert inspected.asked == 1


def test_masked_details_keep_the_engines_pairs_shape(inspected):
    shown = selectors.container_details(actor=user(2), container_id="c" * 64, row=row(owner_pk=1))

    assert shown.envs == tuple((key, access.MASKED_VALUE) for key, _ in ENVS)
    assert shown.summary == details().summary


def test_an_anonymous_viewer_sees_no_values(inspected):
    shown = selectors.container_details(actor=AnonymousUser(), container_id="c" * 64, row=row(owner_pk=1))

    assert all(value == access.MASKED_VALUE for _, value in shown.envs)
