"""containersvc.access on its own (mirror rows, no engine): levels, grants, the database filter agreeing with
the per-container rule, env masking, the admin's checks on grants, and the names and keys grammar."""

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.test import Client

from containersvc import access, validation
from containersvc.access import Level
from containersvc.errors import InvalidRequest, NotFound
from containersvc.models import AccessGrant, Container, ContainerState, GrantLevel
from containersvc.scopes import Scope
from tests.conftest import TEST_NODE

pytestmark = pytest.mark.django_db


def row(name: str, *, created_by=None, labels: dict | None = None, node_id: str = TEST_NODE) -> Container:
    return Container.objects.create(
        node_id=node_id,
        container_id=f"{abs(hash((name, node_id))):064x}"[-64:],
        name=name,
        labels=labels or {},
        state=ContainerState.RUNNING,
        created_by=created_by,
    )


@pytest.fixture
def alice(make_user):
    return make_user(*Scope)


@pytest.fixture
def bob(make_user):
    return make_user(*Scope)


def test_owner_superuser_and_others(alice, bob, make_user):
    mine = row("alice-web", created_by=alice)
    foreign = row("docker-run", labels={"containersvc.managed": "true"})

    assert access.access_level(actor=alice, container=mine) == Level.OWNER
    assert access.access_level(actor=bob, container=mine) == Level.NONE
    assert access.access_level(actor=alice, container=foreign) == Level.NONE
    admin = make_user(superuser=True)
    assert access.access_level(actor=admin, container=foreign) == Level.OWNER
    alice.is_active = False
    assert access.access_level(actor=alice, container=mine) == Level.NONE


def test_access_require_answers_as_for_an_unknown_container(alice, bob):
    mine = row("alice-web", created_by=alice)

    with pytest.raises(NotFound) as refused:
        access.access_require(actor=bob, container=mine, level=Level.VIEW, reference="alice-web")
    assert refused.value.message == "No container with id or name 'alice-web'."
    access.access_require(actor=alice, container=mine, level=Level.OWNER)


def test_grants_by_label_prefix_user_and_group_take_the_highest(alice, bob):
    group = Group.objects.create(name="ml-team")
    bob.groups.add(group)
    web = row("alice-web", created_by=alice, labels={"team.name": "ml", "tier": "front"})
    AccessGrant.objects.create(user=bob, level=GrantLevel.VIEW, label_selector="team.name=ml")
    assert access.access_level(actor=bob, container=web) == Level.VIEW
    AccessGrant.objects.create(group=group, level=GrantLevel.OPERATE, name_prefix="alice-")
    assert access.access_level(actor=bob, container=web) == Level.OPERATE
    AccessGrant.objects.create(user=bob, level=GrantLevel.VIEW, label_selector="tier")
    assert access.access_level(actor=bob, container=web) == Level.OPERATE
    # Never the owner's level: env values stay the owner's.
    assert not access.env_visible(actor=bob, container=web)
    assert access.env_visible(actor=alice, container=web)


@pytest.mark.parametrize(
    "grant",
    [
        {"label_selector": "team=ml"},
        {"label_selector": "team"},
        {"label_selector": "team.name=ml"},
        {"label_selector": "team=m"},
        {"label_selector": "team="},
        {"name_prefix": "web"},
        {"name_prefix": "web", "label_selector": "team=ml"},
        {"name_prefix": "api", "label_selector": "team"},
    ],
)
def test_the_database_filter_and_the_rows_in_hand_agree_with_the_per_container_rule(alice, bob, grant):
    rows = [
        row("web-1", created_by=alice, labels={"team": "ml"}),
        row("web-2", labels={"team": "m"}),
        row("web-3", labels={"team": ""}),
        row("api-1", created_by=alice, labels={"team.name": "ml"}),
        row("api-2", created_by=bob, labels={"other": "team"}),
        row("db-1", labels={}),
    ]
    AccessGrant.objects.create(user=bob, level=GrantLevel.VIEW, **grant)

    filtered = set(access.visible_containers(actor=bob, rows=Container.objects.all()).values_list("name", flat=True))
    by_rule = {each.name for each in rows if access.access_level(actor=bob, container=each) >= Level.VIEW}
    in_hand = [each.name for each in access.visible_rows(actor=bob, rows=rows)]

    assert filtered == by_rule == set(in_hand)
    assert in_hand == [each.name for each in rows if each.name in by_rule]  # in the order given
    assert "api-2" in filtered  # bob's own


def test_anonymous_and_superuser_filters(make_user):
    from django.contrib.auth.models import AnonymousUser

    rows = [row("web-1")]
    assert not access.visible_containers(actor=AnonymousUser(), rows=Container.objects.all()).exists()
    assert access.visible_containers(actor=make_user(superuser=True), rows=Container.objects.all()).count() == 1
    assert access.visible_rows(actor=AnonymousUser(), rows=rows) == []
    assert access.visible_rows(actor=make_user(superuser=True), rows=rows) == rows


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"level": "view", "name_prefix": "web"}, "user"),  # neither user nor group
        ({"level": "view", "name_prefix": "web", "both": True}, "user"),
        ({"level": "view"}, "label_selector"),  # neither selector nor prefix
        ({"level": "view", "label_selector": "a b=c"}, "label_selector"),
        ({"level": "view", "label_selector": "=c"}, "label_selector"),
        ({"level": "view", "label_selector": "team\n"}, "label_selector"),
        ({"level": "view", "name_prefix": "web\n"}, "name_prefix"),
        ({"level": "view", "name_prefix": "-x"}, "name_prefix"),
    ],
)
def test_a_grant_is_checked_before_it_is_saved(alice, fields, field):
    fields = dict(fields)
    grant = AccessGrant(**{key: value for key, value in fields.items() if key != "both"})
    if fields.get("both"):
        grant.user, grant.group = alice, Group.objects.create(name="g")
    elif field != "user":
        grant.user = alice

    with pytest.raises(ValidationError) as refused:
        grant.full_clean()
    assert field in refused.value.message_dict


def test_the_admin_adds_a_grant_and_shows_the_checks(make_user, alice):
    client = Client()
    client.force_login(make_user(superuser=True))
    page = "/admin/containersvc/accessgrant/add/"
    refused = client.post(page, {"level": "view"})
    assert refused.status_code == 200 and access.MESSAGE_GRANT_WHAT.encode() in refused.content

    added = client.post(page, {"user": alice.pk, "level": "operate", "label_selector": "team=ml"})

    assert added.status_code == 302
    assert AccessGrant.objects.get().label_selector == "team=ml"
    assert client.get("/admin/containersvc/accessgrant/?level__exact=operate").status_code == 200


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (validation.container_name, "web\n"),
        (validation.container_name, "abcdef012345"),
        (validation.container_name, "a" * 64),
        (validation.env_key, "NVIDIA_VISIBLE_DEVICES\n"),
        (validation.env_key, "MODE\n"),
        (validation.label_key, "team\n"),
        (validation.image_reference, "busybox\n"),
    ],
)
def test_names_and_keys_match_whole(check, value):
    with pytest.raises(InvalidRequest):
        check(value)


@pytest.mark.parametrize("value", ["abcdef01234", "web-abcdef012345", "cafe" * 3 + "-x", "g" * 12])
def test_names_that_only_contain_hex_are_fine(value):
    assert validation.container_name(value) == value
