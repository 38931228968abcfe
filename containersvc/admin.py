"""The Django admin: the mirror, builds, logs and audit read-only; tokens issued and revoked here."""

from django.contrib import admin, messages
from django.db import models
from django.utils import timezone

from containersvc.models import (
    AccessGrant,
    AlertEvent,
    AlertRule,
    AuditEvent,
    Container,
    ImageBuild,
    ImagePull,
    LogChunk,
    ServiceToken,
)
from containersvc.services.accounts import token_issue


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Container)
class ContainerAdmin(ReadOnlyAdmin):
    list_display = [
        "name",
        "container_id_short",
        "image",
        "state",
        "exit_code",
        "managed",
        "created_by",
        "node_id",
        "engine_created_at",
    ]
    list_filter = ["state", "managed", "node_id", "gpu_enabled"]
    search_fields = ["name", "container_id", "image", "hash"]

    @admin.display(description="ID")
    def container_id_short(self, obj: Container) -> str:
        return obj.container_id[:12]


@admin.register(AccessGrant)
class AccessGrantAdmin(admin.ModelAdmin):
    """Share containers with a user or a group (see docs/ownership.md); the model's clean() checks the grammar."""

    list_display = ["__str__", "user", "group", "level", "label_selector", "name_prefix", "created_at"]
    list_filter = ["level", "group"]
    list_select_related = ["user", "group"]
    search_fields = ["user__username", "group__name", "label_selector", "name_prefix", "note"]
    autocomplete_fields = ["user", "group"]
    fields = ["user", "group", "level", "label_selector", "name_prefix", "note"]


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    """Alerts on resource use and exits (see docs/alerts.md); the model's clean() checks the target and webhook."""

    list_display = ["name", "kind", "threshold", "for_seconds", "target_kind", "target", "cooldown_seconds", "enabled"]
    list_filter = ["kind", "target_kind", "enabled"]
    search_fields = ["name", "target", "webhook_url"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fields = [
        "name",
        "enabled",
        "kind",
        "threshold",
        "for_seconds",
        "target_kind",
        "target",
        "cooldown_seconds",
        "webhook_url",
    ]


@admin.register(AlertEvent)
class AlertEventAdmin(ReadOnlyAdmin):
    list_display = ["rule", "container", "value", "fired_at", "resolved_at"]
    list_filter = ["rule", "resolved_at"]
    list_select_related = ["rule", "container"]
    search_fields = ["rule__name", "container__name", "container__container_id"]


@admin.register(ImageBuild)
class ImageBuildAdmin(ReadOnlyAdmin):
    list_display = ["tag", "status", "requested_by", "created_at", "finished_at"]
    list_filter = ["status", "node_id"]
    search_fields = ["tag", "image_id"]


@admin.register(ImagePull)
class ImagePullAdmin(ReadOnlyAdmin):
    list_display = ["image", "status", "requested_by", "started_at", "finished_at"]
    list_filter = ["status", "node_id"]
    search_fields = ["image"]


@admin.register(LogChunk)
class LogChunkAdmin(ReadOnlyAdmin):
    list_display = ["container", "stream", "line_count", "first_line_at"]
    list_filter = ["stream"]
    list_select_related = ["container"]
    search_fields = ["container__name", "container__container_id"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor_name", "action", "target", "outcome"]
    list_filter = ["action", "outcome", "node_id"]
    search_fields = ["actor_name", "target", "detail"]


@admin.register(ServiceToken)
class ServiceTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "user", "name", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["user__username", "name", "prefix"]
    fields = ["user", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj: ServiceToken, form, change: bool) -> None:
        if change:
            return
        issued = token_issue(user=obj.user, name=obj.name)
        obj.pk = issued.record.pk
        self.message_user(
            request,
            f"New token for {obj.user}: {issued.token} — copy it now, it is not shown again.",
            messages.WARNING,
        )

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} token(s).")
