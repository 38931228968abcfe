"""Accounts: the default groups with their scopes, bearer tokens (stored hashed), and the first admin."""

import hashlib
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from containersvc import scopes
from containersvc.errors import InvalidRequest, NotFound
from containersvc.models import Container, ServiceToken, SetupToken

TOKEN_PREFIX = "csvc_"  # noqa: S105  (a marker, not a secret)
MESSAGE_SETUP_LINK_INVALID = "This setup link is not valid: it was used already, or an admin exists."
MESSAGE_ADMIN_INCOMPLETE = "CONTAINERSVC_ADMIN_USERNAME is set without CONTAINERSVC_ADMIN_PASSWORD."
MESSAGE_ADMIN_REFUSED = "CONTAINERSVC_ADMIN_PASSWORD is refused: {reasons}"
LAST_USED_RESOLUTION_SECONDS = 60


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    record: ServiceToken


def scope_permissions_ensure(*, using: str = "default") -> dict[scopes.Scope, Permission]:
    content_type = ContentType.objects.db_manager(using).get_for_model(Container, for_concrete_model=True)
    permissions = {}
    for scope, (code, _) in scopes.PERMISSIONS.items():
        permissions[scope], _ = Permission.objects.using(using).get_or_create(
            content_type=content_type, codename=code, defaults={"name": dict(scopes.model_permissions())[code]}
        )
    return permissions


def service_groups_ensure(*, using: str = "default") -> None:
    """Create the service groups with their default scopes; grants an admin changed later are left alone."""
    permissions = scope_permissions_ensure(using=using)
    for group_name, group_scopes in scopes.SERVICE_GROUPS.items():
        group, created = Group.objects.using(using).get_or_create(name=group_name)
        if created:
            group.permissions.add(*(permissions[scope] for scope in group_scopes))


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def service_account_create(*, username: str, groups: list[str]) -> IssuedToken:
    """Create the user when missing, put it in the groups, and issue a new token for it."""
    user, created = get_user_model().objects.get_or_create(username=username)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    for name in groups:
        user.groups.add(Group.objects.get(name=name))
    return token_issue(user=user, name="issued by create_service_account")


def token_issue(*, user, name: str = "") -> IssuedToken:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ServiceToken.objects.create(
        user=user, name=name, prefix=token[: len(TOKEN_PREFIX) + 6], key_hash=_hash(token)
    )
    return IssuedToken(token=token, record=record)


def token_authenticate(*, token: str) -> ServiceToken | None:
    record = (
        ServiceToken.objects.select_related("user")
        .filter(key_hash=_hash(token), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if record is None:
        return None
    now = timezone.now()
    if record.last_used_at is None or (now - record.last_used_at).total_seconds() > LAST_USED_RESOLUTION_SECONDS:
        ServiceToken.objects.filter(pk=record.pk).update(last_used_at=now)
    return record


def token_revoke(*, record: ServiceToken) -> None:
    if record.revoked_at is None:
        record.revoked_at = timezone.now()
        record.save(update_fields=["revoked_at"])


# --- the first admin --------------------------------------------------------------------------------------
def _superuser_exists(using: str = "default") -> bool:
    return get_user_model().objects.db_manager(using).filter(is_superuser=True).exists()


def setup_token_issue() -> str | None:
    """A new one-time token for the first admin's setup page; None once a superuser exists (nothing to set up).

    Every token issued stays valid until one of them is used: each server process prints its own.
    """
    if _superuser_exists():
        SetupToken.objects.all().delete()
        return None
    token = secrets.token_urlsafe(32)
    SetupToken.objects.create(token_hash=_hash(token))
    return token


def setup_token_valid(*, token: str) -> bool:
    return not _superuser_exists() and SetupToken.objects.filter(token_hash=_hash(token)).exists()


@transaction.atomic
def first_admin_create(*, token: str, username: str, password: str):
    """Use up the setup token and create the first superuser (the caller validated the password)."""
    list(SetupToken.objects.select_for_update())  # two links used at once make one admin, not two
    if not SetupToken.objects.filter(token_hash=_hash(token)).exists() or _superuser_exists():
        raise NotFound(MESSAGE_SETUP_LINK_INVALID)
    SetupToken.objects.all().delete()
    return get_user_model().objects.create_superuser(username=username, email=None, password=password)


def admin_from_settings_ensure(*, using: str = "default"):
    """CONTAINERSVC_ADMIN_USERNAME / _PASSWORD: create that superuser unless a user of that name exists.

    For scripts and containers; the password must pass the same validators as anyone else's.
    """
    username, password = settings.CONTAINERSVC_ADMIN_USERNAME, settings.CONTAINERSVC_ADMIN_PASSWORD
    if not username:
        return None
    if not password:
        raise InvalidRequest(MESSAGE_ADMIN_INCOMPLETE)
    users = get_user_model().objects.db_manager(using)
    if users.filter(username=username).exists():
        return None
    try:
        password_validation.validate_password(password, user=get_user_model()(username=username))
    except ValidationError as error:
        raise InvalidRequest(MESSAGE_ADMIN_REFUSED.format(reasons=" ".join(error.messages))) from error
    user = users.create_superuser(username=username, email=None, password=password)
    SetupToken.objects.using(using).all().delete()
    return user
