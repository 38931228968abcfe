"""Reads of alerts: the ones active now on containers a user may see."""

from django.conf import settings
from django.db.models import QuerySet

from containersvc import access
from containersvc.models import AlertEvent, Container


def alert_active_list(*, actor, limit: int = 20) -> QuerySet[AlertEvent]:
    """Unresolved alerts of this node on containers `actor` may see, newest first."""
    visible = access.visible_containers(
        actor=actor, rows=Container.objects.filter(node_id=settings.CONTAINERSVC_NODE_ID)
    )
    return (
        AlertEvent.objects.filter(resolved_at__isnull=True, container__in=visible)
        .select_related("rule", "container")
        .order_by("-fired_at", "-id")[:limit]
    )
