"""Producer election: one process per (node, role) holds a lease row and does that role's storing work.

Every process of a node that runs a role's producer runs a Lease for it: a thread that, every
CONTAINERSVC_LEASE_RENEW_SECONDS, takes or renews the row with one UPDATE ... WHERE the row is free
(expired) or already ours, so SQLite and PostgreSQL elect alike. The others stand by and take over when
the holder releases at a clean stop, when its lease expires (CONTAINERSVC_LEASE_SECONDS after its last
renewal), or at once when the holder was a process of this host that has ended. A holder counts itself
holding one renewal period less than the row says, so it stops before anyone may start. The loop is
database work only: an engine away does not touch it. The clocks compared are the processes' own, which is
sound for the processes of one node.
"""

import logging
import os
import socket
import threading
import time
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Case, F, Q, QuerySet, When
from django.utils import timezone

from containersvc.models import ProducerLease
from containersvc.producers.connections import refresh_connections
from containersvc.producers.worker import Worker

logger = logging.getLogger(__name__)
HOST = socket.gethostname()
_OURS: set[str] = set()  # the holder names of this process's leases (tests run two in one process)


class Lease(Worker):
    """A role's lease for this process; `held` says whether to do the role's storing work now."""

    def __init__(self, role: str) -> None:
        super().__init__()
        self.role = role
        self.thread_name = f"lease-{role}"
        self.holder = f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        _OURS.add(self.holder)
        self._valid_until = 0.0  # monotonic; held before it
        self._handed_over_at: datetime | None = None

    @property
    def held(self) -> bool:
        return self.running and time.monotonic() < self._valid_until

    @property
    def handed_over_at(self) -> datetime | None:
        """When the previous holder's term ended (None: nobody held it before): what began earlier was its."""
        return self._handed_over_at

    # --- the loop (see Worker) ----------------------------------------------------------------------------
    def perform_work(self, stop: threading.Event) -> None:
        try:
            refresh_connections()
            self.renew()
        except DatabaseError:
            logger.warning("%s lease not renewed", self.role, exc_info=True)
        stop.wait(settings.CONTAINERSVC_LEASE_RENEW_SECONDS)

    def on_stop(self) -> None:
        try:
            self.release()
        except DatabaseError:
            logger.warning("%s lease not released; it expires", self.role, exc_info=True)
        finally:
            connection.close()

    def renew(self) -> bool:
        """Take or renew the lease once; whether this process holds it now."""
        began, now = time.monotonic(), timezone.now()
        was_held = time.monotonic() < self._valid_until
        taken = self._take(now) or self._take_from_ended(now) or self._create(now)
        if taken:
            if not was_held:  # a new term: set before `held` says so
                self._handed_over_at = self._rows().values_list("handed_over_at", flat=True).first()
            lease, renew = settings.CONTAINERSVC_LEASE_SECONDS, settings.CONTAINERSVC_LEASE_RENEW_SECONDS
            self._valid_until = began + lease - min(renew, lease / 2)  # a renewal longer than the lease is wrong
        else:
            self._valid_until = 0.0
        if taken != was_held:
            logger.info("%s lease %s by %s", self.role, "taken" if taken else "lost", self.holder)
        return taken

    def release(self) -> None:
        """End this process's term now, so a stand-by takes over at its next renewal."""
        self._valid_until = 0.0
        self._rows().filter(holder=self.holder).update(expires_at=timezone.now())

    def _rows(self) -> QuerySet[ProducerLease]:
        return ProducerLease.objects.filter(node_id=settings.CONTAINERSVC_NODE_ID, role=self.role)

    def _take(self, now: datetime, *, where: Q | None = None) -> bool:
        condition = where if where is not None else Q(holder=self.holder) | Q(expires_at__lt=now)
        # The SET expressions read the row as it was: a new term (after anyone's, ours included, ended)
        # records when the previous one ended.
        renewing = Q(holder=self.holder) & Q(expires_at__gte=now)
        return bool(
            self._rows()
            .filter(condition)
            .update(
                holder=self.holder,
                expires_at=now + timedelta(seconds=settings.CONTAINERSVC_LEASE_SECONDS),
                handed_over_at=Case(When(renewing, then=F("handed_over_at")), default=F("expires_at")),
            )
        )

    def _take_from_ended(self, now: datetime) -> bool:
        """A holder that was a process of this host and has ended leaves its lease at once."""
        holder = self._rows().values_list("holder", flat=True).first()
        if holder is None or not _ended_here(holder):
            return False
        # Its term ends now, not at its expiry: what it stored came before.
        self._rows().filter(holder=holder).update(expires_at=now)
        return self._take(now, where=Q(holder=holder))

    def _create(self, now: datetime) -> bool:
        if self._rows().exists():
            return False
        try:
            with transaction.atomic():
                ProducerLease.objects.create(
                    node_id=settings.CONTAINERSVC_NODE_ID,
                    role=self.role,
                    holder=self.holder,
                    expires_at=now + timedelta(seconds=settings.CONTAINERSVC_LEASE_SECONDS),
                )
        except IntegrityError:
            return False  # another process made it first
        return True


def _ended_here(holder: str) -> bool:
    """Whether the holder was a process of this host that is gone; our own pid under another name is a
    previous process's (a restarted container's server often gets the same pid)."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != HOST or not pid.isdigit() or holder in _OURS:
        return False
    if int(pid) == os.getpid():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False
