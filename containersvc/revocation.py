"""Revocation reaches open sockets at once: every change that can take access away signals the user's sockets.

The receivers only say whom a change concerns; each socket then checks its access again with a fresh user
(consumers/base.py) and closes with 4401/4403 when it no longer passes. The message is sent once the change is
committed, so the check reads the new state. Connected in apps.py; the periodic re-check stays as a safety net.
"""

import logging
from collections.abc import Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model, user_logged_out
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save

from containersvc.models import ServiceToken
from containersvc.producers import groups

logger = logging.getLogger(__name__)
PENDING = "_containersvc_revocation_users"  # users of a clear or delete, read before the rows go


def users_notify(user_ids: Iterable[int], *, session_key: str = "") -> None:
    """After the current transaction commits, tell every socket of these users to check its access again."""
    ids = sorted({int(user_id) for user_id in user_ids if user_id is not None})
    if ids:
        event = groups.access_changed_event(session_key=session_key)
        transaction.on_commit(lambda: _send(ids, event))


def _send(user_ids: list[int], event: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return

    async def send_all() -> None:
        for user_id in user_ids:
            await layer.group_send(groups.user_group(user_id), event)

    try:
        async_to_sync(send_all)()
    except Exception:
        # The change itself is made; open sockets still end at their periodic re-check.
        logger.exception("Could not signal the sockets of users %s", user_ids)


def _members(group_ids: Iterable[int]) -> list[int]:
    users = get_user_model().objects.filter(groups__in=list(group_ids))
    return list(users.values_list("pk", flat=True).distinct())


# --- receivers --------------------------------------------------------------------------------------------
def token_saved(sender, instance: ServiceToken, created: bool, **kwargs) -> None:
    if instance.revoked_at is not None:
        users_notify([instance.user_id])


def token_deleted(sender, instance: ServiceToken, **kwargs) -> None:
    users_notify([instance.user_id])


def user_saved(sender, instance, created: bool, update_fields=None, **kwargs) -> None:
    """Deactivated, superuser flag dropped, password changed...: any change but the login time itself."""
    if created or (update_fields is not None and set(update_fields) <= {"last_login"}):
        return
    users_notify([instance.pk])


def user_deleted(sender, instance, **kwargs) -> None:
    users_notify([instance.pk])


def logged_out(sender, request, user, **kwargs) -> None:
    if user is not None:
        session = getattr(request, "session", None)
        users_notify([user.pk], session_key=(session.session_key or "") if session is not None else "")


def group_deleting(sender, instance: Group, **kwargs) -> None:
    # Deleting a group drops its memberships without m2m_changed: its members lose its scopes.
    users_notify(_members([instance.pk]))


def _grantees(user_id: int | None, group_id: int | None) -> list[int]:
    if user_id:
        return [user_id]
    return _members([group_id]) if group_id else []


def grant_saving(sender, instance, **kwargs) -> None:
    """pre_save of an access grant: whom it showed containers to before (an edit may give it to others)."""
    if instance.pk is not None:
        before = sender.objects.filter(pk=instance.pk).values_list("user_id", "group_id").first()
        setattr(instance, PENDING, _grantees(*before) if before else [])


def grant_changed(sender, instance, **kwargs) -> None:
    """post_save and post_delete of an access grant: its user or its group's members, now and before."""
    users_notify([*instance.__dict__.pop(PENDING, []), *_grantees(instance.user_id, instance.group_id)])


def _affected(sender, instance, reverse: bool, pk_set: set | None) -> list[int]:
    """The users whose scopes a change of user_permissions, groups or Group.permissions may take away."""
    user_model = get_user_model()
    if sender is Group.permissions.through:
        if not reverse:
            return _members([instance.pk])
        group_ids = pk_set if pk_set is not None else instance.group_set.values_list("pk", flat=True)
        return _members(group_ids)
    if not reverse:
        return [instance.pk]
    if pk_set is not None:
        return list(pk_set)
    if isinstance(instance, Permission):
        return list(instance.user_set.values_list("pk", flat=True))
    return list(user_model.objects.filter(groups=instance).values_list("pk", flat=True))


def scopes_changed(sender, instance, action: str, reverse: bool, pk_set: set | None, **kwargs) -> None:
    """m2m_changed of user_permissions, groups and Group.permissions: removals and clears (adds take nothing)."""
    if action == "pre_clear":
        setattr(instance, PENDING, _affected(sender, instance, reverse, None))
    elif action == "post_clear":
        users_notify(instance.__dict__.pop(PENDING, []))
    elif action == "post_remove":
        users_notify(_affected(sender, instance, reverse, pk_set))


def connect() -> None:
    user_model = get_user_model()
    post_save.connect(token_saved, sender=ServiceToken, dispatch_uid="revocation-token-saved")
    post_delete.connect(token_deleted, sender=ServiceToken, dispatch_uid="revocation-token-deleted")
    post_save.connect(user_saved, sender=user_model, dispatch_uid="revocation-user-saved")
    post_delete.connect(user_deleted, sender=user_model, dispatch_uid="revocation-user-deleted")
    user_logged_out.connect(logged_out, dispatch_uid="revocation-logged-out")
    pre_delete.connect(group_deleting, sender=Group, dispatch_uid="revocation-group-deleting")
    for through in (user_model.user_permissions.through, user_model.groups.through, Group.permissions.through):
        m2m_changed.connect(scopes_changed, sender=through, dispatch_uid=f"revocation-{through._meta.label}")
    pre_save.connect(grant_saving, sender="containersvc.AccessGrant", dispatch_uid="revocation-grant-saving")
    post_save.connect(grant_changed, sender="containersvc.AccessGrant", dispatch_uid="revocation-grant-saved")
    post_delete.connect(grant_changed, sender="containersvc.AccessGrant", dispatch_uid="revocation-grant-deleted")
