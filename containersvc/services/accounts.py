"""Service accounts: the default groups with their scopes, and bearer tokens (stored hashed)."""

import hashlib
import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone

from containersvc import scopes
from containersvc.models import Container, ServiceToken

TOKEN_PREFIX = "csvc_"  # noqa: S105  (a marker, not a secret)
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
