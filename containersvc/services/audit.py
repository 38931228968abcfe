"""The audit trail: one record for every mutating call, whatever its outcome."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

from containersvc.errors import ContainerSvcError
from containersvc.models import AuditEvent, AuditOutcome


def audit_record(
    *, actor, action: str, target: str, outcome: AuditOutcome, detail: str = "", actor_name: str = ""
) -> AuditEvent:
    """`actor_name` names what acted when no user did (the alerts)."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEvent.objects.create(
        node_id=settings.CONTAINERSVC_NODE_ID,
        actor=user,
        actor_name=user.get_username() if user else (actor_name or "anonymous"),
        action=action,
        target=target[:512],
        outcome=outcome,
        detail=detail[:4000],
    )


@contextmanager
def audited(*, actor, action: str, target: str) -> Iterator[dict]:
    """Record the call when it ends; the body may add a detail through the yielded dict."""
    note: dict = {"detail": "", "target": target}
    try:
        yield note
    except ContainerSvcError as error:
        audit_record(
            actor=actor, action=action, target=note["target"], outcome=AuditOutcome.ERROR, detail=error.message
        )
        raise
    except Exception as error:
        audit_record(actor=actor, action=action, target=note["target"], outcome=AuditOutcome.ERROR, detail=repr(error))
        raise
    audit_record(actor=actor, action=action, target=note["target"], outcome=AuditOutcome.OK, detail=note["detail"])
