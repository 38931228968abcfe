"""Ownership between accounts through the API, against the real engine: another account's containers, and
those the service did not create, answer exactly as unknown ones; grants share them; names cannot be taken."""

import io
import uuid

import pytest
from django.contrib.auth.models import Group

from containersvc import labels
from containersvc.access import MASKED_VALUE
from containersvc.models import AccessGrant, Container, GrantLevel
from containersvc.scopes import Scope
from tests.conftest import MANAGED_LABELS, TEST_LABEL, wait_for

pytestmark = pytest.mark.django_db

SECRET = {"key": "API_KEY", "value": "s3cret-of-the-owner"}
PRINTS = ["sh", "-c", "echo owner-line-1; echo owner-line-2; sleep 600"]


def put(client, action: str, body: dict):
    return client.put(f"/container-svc/container/{action}", body, format="json")


@pytest.fixture
def other(make_user, bearer_client):
    """A second account with the same scopes as the test's account (as a second model-svc would have)."""
    return bearer_client(make_user(*Scope))


@pytest.fixture
def owned(run, name, docker_client):
    """A container of the test's account, run through the API, that has printed its lines."""
    response = run(name, hash="h1", envs=[SECRET], command=PRINTS)
    assert response.status_code == 200, response.json()
    container = docker_client.containers.get(response.json()["id"])
    wait_for(lambda: b"owner-line-2" in container.logs(), timeout=10, what="the container printed")
    return container


def unknown_body(reference: str) -> dict:
    return {"error": f"No container with id or name '{reference}'."}


# --- another account ---------------------------------------------------------------------------------------
def test_inspect_by_name_or_id_answers_as_for_an_unknown_container(owned, other, name):
    for key, reference in (("name", name), ("id", owned.id)):
        response = other.get("/container-svc/container/inspect", {key: reference})
        assert (response.status_code, response.json()) == (404, unknown_body(reference))
    unknown = other.get("/container-svc/container/inspect", {"name": f"{name}-none"})
    assert (unknown.status_code, unknown.json()) == (404, unknown_body(f"{name}-none"))


@pytest.mark.parametrize("action", ["stop", "start", "restart", "remove"])
def test_lifecycle_actions_answer_as_for_an_unknown_container_and_touch_nothing(owned, other, name, action):
    for body in ({"name": name}, {"id": owned.id}):
        response = put(other, action, {**body, **({"force": True} if action == "remove" else {})})
        assert (response.status_code, response.json()) == (404, unknown_body(next(iter(body.values()))))
    owned.reload()
    assert owned.status == "running"


def test_foreign_stop_has_the_same_body_as_an_unknown_container(owned, other, name):
    foreign = put(other, "stop", {"name": name})
    unknown_name = f"{name}x"
    unknown = put(other, "stop", {"name": unknown_name})

    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json()["error"].replace(name, "N") == unknown.json()["error"].replace(unknown_name, "N")


def test_summary_and_is_running_by_name_and_hash_answer_as_for_an_unknown_container(owned, other, api, name):
    for query in ({"name": name}, {"hash": "h1"}):
        summary = other.get("/container-svc/container/summary", query)
        assert (summary.status_code, summary.json()) == (404, {"error": "No container with that name or hash."})
        # is-running answers an unknown container with false (the 1Backend contract): so it answers here.
        running = other.get("/container-svc/container/is-running", query)
        assert (running.status_code, running.json()) == (200, {"isRunning": False})
        assert api.get("/container-svc/container/is-running", query).json() == {"isRunning": True}
    unknown = other.get("/container-svc/container/summary", {"hash": f"h-{uuid.uuid4().hex}"})
    assert (unknown.status_code, unknown.json()) == (404, {"error": "No container with that name or hash."})


def test_the_list_shows_only_the_callers_containers(owned, other, api, run, name):
    assert run(f"{name}-second").status_code == 200

    def ids(client, **body) -> set[str]:
        response = client.post("/container-svc/containers", body, format="json")
        assert response.status_code == 200
        return {row["id"] for row in response.json()["containers"]}

    assert owned.id in ids(api)
    assert owned.id not in ids(other)
    assert ids(other, containerId=name) == set() and ids(other, containerId=owned.id) == set()
    # The limit counts what the caller may see.
    assert len(ids(api, limit=1)) == 1


def test_stored_logs_are_the_owners_only(owned, other, api, name):
    for body in ({"containerId": name}, {"containerId": owned.id}, {}):
        response = other.post("/container-svc/logs", {**body, "limit": 1000}, format="json")
        assert response.status_code == 200
        assert all(chunk["containerId"] != owned.id for chunk in response.json()["logs"])
        assert "owner-line-1" not in str(response.json())
    mine = api.post("/container-svc/logs", {"containerId": name}, format="json").json()["logs"]
    assert "owner-line-1" in "".join(chunk["content"] for chunk in mine)


# --- names -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("hash", ["h1", "h2"])
def test_running_a_name_held_by_another_account_is_409_and_touches_nothing(owned, other, test_image, name, hash):
    response = other.put(
        "/container-svc/container", {"image": test_image, "names": [name], "hash": hash}, format="json"
    )

    assert response.status_code == 409
    assert name in response.json()["error"] and owned.id not in str(response.json())
    owned.reload()
    assert owned.status == "running" and owned.name == name
    assert Container.objects.get(container_id=owned.id).created_by is not None


def test_a_run_by_hash_alone_never_answers_with_another_accounts_container(owned, other, test_image):
    response = other.put("/container-svc/container", {"image": test_image, "hash": "h1"}, format="json")

    assert response.status_code == 200
    assert response.json()["started"] is True and response.json()["id"] != owned.id


def test_the_superuser_may_replace_any_name(owned, make_user, bearer_client, test_image, name, docker_client):
    admin = make_user(superuser=True)
    response = bearer_client(admin).put(
        "/container-svc/container", {"image": test_image, "names": [name], "hash": "h2"}, format="json"
    )

    assert response.status_code == 200 and response.json()["id"] != owned.id
    assert Container.objects.get(container_id=response.json()["id"]).created_by == admin


@pytest.mark.parametrize("bad_name", ["a" * 12, "0123456789abcdef" * 4, "DEADBEEF0123", "{name}\n", "{name}\r\n"])
def test_names_that_read_as_ids_or_end_in_a_newline_are_400(run, bad_name, name, docker_client):
    response = run(bad_name.format(name=name))

    assert response.status_code == 400
    assert not docker_client.containers.list(all=True, filters={"name": f"^/{name}$"})


def test_a_name_that_is_another_containers_id_is_refused_and_the_id_still_resolves(owned, run, docker_client):
    for taken in (owned.id, owned.id[:12]):
        response = run(taken)
        assert response.status_code == 400 and "looks like a container id" in response.json()["error"]
    assert docker_client.containers.get(owned.id[:12]).id == owned.id


@pytest.mark.parametrize(
    "body",
    [
        {"envs": [{"key": "NVIDIA_VISIBLE_DEVICES\n", "value": "all"}]},
        {"envs": [{"key": "MODE\n", "value": "x"}]},
        {"labels": [{"key": "team\n", "value": "ml"}]},
    ],
)
def test_env_and_label_keys_with_a_trailing_newline_are_400(run, name, body):
    assert run(name, **body).status_code == 400


# --- containers the service did not create --------------------------------------------------------------------
def test_the_managed_label_grants_nothing(api, make_user, bearer_client, docker_client, test_image, name):
    spoofed = docker_client.containers.run(
        test_image, ["sh", "-c", "echo DB_PASSWORD-in-logs; sleep 600"], name=name, detach=True,
        environment={"DB_PASSWORD": "hunter2"}, labels=MANAGED_LABELS,
    )  # fmt: skip
    admin = bearer_client(make_user(superuser=True))

    assert put(api, "stop", {"name": name}).json() == unknown_body(name)
    assert put(api, "remove", {"id": spoofed.id, "force": True}).status_code == 404
    assert api.get("/container-svc/container/inspect", {"id": spoofed.id}).status_code == 404
    assert api.get("/container-svc/container/summary", {"name": name}).status_code == 404
    listed = api.post("/container-svc/containers", {}, format="json").json()["containers"]
    assert spoofed.id not in {row["id"] for row in listed} and "hunter2" not in str(listed)
    spoofed.reload()
    assert spoofed.status == "running"

    assert admin.get("/container-svc/container/inspect", {"id": spoofed.id}).status_code == 200
    assert spoofed.id in {
        row["id"] for row in admin.post("/container-svc/containers", {}, format="json").json()["containers"]
    }
    assert put(admin, "stop", {"name": name, "timeout": 0}).status_code == 200


def test_an_images_managed_label_grants_nothing(api, docker_client, test_image, name):
    dockerfile = f"FROM {test_image}\nLABEL {labels.MANAGED}=true {labels.CREATED_BY}=someone\n"
    tag = f"containersvc-test/labelled:{uuid.uuid4().hex[:8]}"
    docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)
    try:
        found = docker_client.containers.run(tag, ["sleep", "600"], name=name, detach=True, labels=TEST_LABEL)
        assert found.labels[labels.MANAGED] == "true"

        assert put(api, "stop", {"name": name}).json() == unknown_body(name)
        found.reload()
        assert found.status == "running"
    finally:
        docker_client.containers.get(name).remove(force=True)
        docker_client.images.remove(tag, force=True)


# --- grants ------------------------------------------------------------------------------------------------------
def test_a_view_grant_shows_the_container_with_env_masked_and_no_actions(
    owned, make_user, bearer_client, name, test_image
):
    viewer = make_user(*Scope)
    AccessGrant.objects.create(user=viewer, level=GrantLevel.VIEW, name_prefix=name)
    client = bearer_client(viewer)

    inspected = client.get("/container-svc/container/inspect", {"name": name}).json()["container"]
    assert {"key": "API_KEY", "value": MASKED_VALUE} in inspected["envs"]
    assert SECRET["value"] not in str(inspected)
    [row] = [row for row in client.post("/container-svc/containers", {}, format="json").json()["containers"]]
    assert row["id"] == owned.id and {"key": "API_KEY", "value": MASKED_VALUE} in row["envs"]
    summary = client.get("/container-svc/container/summary", {"name": name}).json()
    assert "owner-line-2" in summary["logs"]
    assert put(client, "stop", {"name": name}).status_code == 404
    assert (
        client.put("/container-svc/container", {"image": test_image, "names": [name]}, format="json").status_code == 409
    )


def test_the_owner_and_the_superuser_see_env_values(owned, api, make_user, bearer_client, name):
    for client in (api, bearer_client(make_user(superuser=True))):
        inspected = client.get("/container-svc/container/inspect", {"name": name}).json()["container"]
        assert SECRET in inspected["envs"]


def test_an_operate_grant_to_a_group_by_prefix_allows_the_actions_its_scopes_allow(
    owned, make_user, bearer_client, name
):
    group = Group.objects.create(name=f"operators-{uuid.uuid4().hex[:6]}")
    operator, view_only = make_user(Scope.CONTAINER_VIEW, Scope.CONTAINER_STOP), make_user(Scope.CONTAINER_VIEW)
    for user in (operator, view_only):
        user.groups.add(group)
    AccessGrant.objects.create(group=group, level=GrantLevel.OPERATE, name_prefix=name[:8])
    AccessGrant.objects.create(group=group, level=GrantLevel.VIEW, name_prefix=name)  # the highest counts

    assert put(bearer_client(operator), "stop", {"name": name, "timeout": 0}).status_code == 200
    owned.reload()
    assert owned.status == "exited"
    # A grant never gives a scope its holder lacks.
    assert put(bearer_client(view_only), "stop", {"name": name}).status_code == 403
    assert put(bearer_client(operator), "start", {"name": name}).status_code == 403


def test_a_grant_matching_the_label_and_prefix_needs_both(owned, make_user, bearer_client, name):
    viewer = make_user(Scope.CONTAINER_VIEW)
    AccessGrant.objects.create(user=viewer, level=GrantLevel.VIEW, name_prefix=name, label_selector="team")

    assert bearer_client(viewer).get("/container-svc/container/inspect", {"name": name}).status_code == 404


def test_a_view_only_account_gets_a_summary_without_logs(owned, make_user, bearer_client, name):
    viewer = make_user(Scope.CONTAINER_VIEW)
    AccessGrant.objects.create(user=viewer, level=GrantLevel.VIEW, name_prefix=name)

    summary = bearer_client(viewer).get("/container-svc/container/summary", {"name": name, "lines": 5})

    assert summary.status_code == 200
    assert summary.json()["logs"] == ""
    assert "owner-line" not in summary.json()["summary"] and "Logs (" not in summary.json()["summary"]
    assert f"Name: {name}" in summary.json()["summary"]


def test_the_owner_without_log_view_gets_a_summary_without_logs(make_user, bearer_client, test_image, name):
    runner = bearer_client(make_user(Scope.CONTAINER_VIEW, Scope.CONTAINER_RUN))
    assert (
        runner.put(
            "/container-svc/container", {"image": test_image, "names": [name], "command": PRINTS}, format="json"
        ).status_code
        == 200
    )

    assert runner.get("/container-svc/container/summary", {"name": name}).json()["logs"] == ""


# --- GPU processes ---------------------------------------------------------------------------------------------
def test_gpu_processes_name_only_containers_the_caller_may_see(fake_nvml, owned, api, other, name):
    fake_nvml.gpus[0].processes = [(owned.attrs["State"]["Pid"], 1024)]

    def process(client) -> dict:
        return client.get("/container-svc/gpus").json()["sample"]["gpus"][0]["processes"][0]

    assert (process(api)["containerId"], process(api)["containerName"]) == (owned.id, name)
    assert (process(other)["containerId"], process(other)["containerName"]) == (None, None)
