"""Lockouts after failed authentication, and request rates: counted in the cache every process shares.

The "throttle" cache is the database (a table made by a migration) or Redis when REDIS_URL is set. Failures
of a subject are forgotten after a quiet window; request rates are counted in fixed windows (a key each).
"""

import hashlib
import math
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches

from containersvc.errors import TooManyRequests
from containersvc.models import AuditOutcome
from containersvc.services.audit import audit_record

CACHE = "throttle"
LOCKED_OUT = "Too many failed attempts. Try again in {seconds} s."
RATE_EXCEEDED = "Too many requests. Try again in {seconds} s."
# A lockout is kept this long after it ends, so the first look after it can record the release.
RELEASE_MEMORY_SECONDS = 24 * 3600

# DatabaseCache's incr is a read then a write: serialize them within the process (Redis's incr is atomic).
_count_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class FailureRule:
    """After `limit` failures of one subject, each within `window` seconds of the one before, the subject is
    refused for `cool_off` seconds; then it starts afresh."""

    name: str  # in cache keys and audit actions: "<name>.lockout", "<name>.release"
    subject: str  # what is counted, for the audit trail: "user", "address"
    limit_setting: str
    window_setting: str
    cool_off_setting: str

    @property
    def limit(self) -> int:
        return getattr(settings, self.limit_setting)

    @property
    def window(self) -> float:
        return getattr(settings, self.window_setting)

    @property
    def cool_off(self) -> float:
        return getattr(settings, self.cool_off_setting)


_LOGIN = ("LOGIN_FAILURE_LIMIT", "LOGIN_FAILURE_WINDOW_SECONDS", "LOGIN_COOL_OFF_SECONDS")
_BEARER = ("BEARER_FAILURE_LIMIT", "BEARER_FAILURE_WINDOW_SECONDS", "BEARER_COOL_OFF_SECONDS")
LOGIN_USER = FailureRule("login.user", "user", *(f"CONTAINERSVC_{name}" for name in _LOGIN))
LOGIN_ADDRESS = FailureRule("login.address", "address", *(f"CONTAINERSVC_{name}" for name in _LOGIN))
BEARER_ADDRESS = FailureRule("bearer.address", "address", *(f"CONTAINERSVC_{name}" for name in _BEARER))


def _key(kind: str, name: str, subject: str) -> str:
    # Subjects are user text (usernames): hashed, so any subject makes a short, valid key.
    return f"{kind}.{name}.{hashlib.sha256(subject.encode()).hexdigest()[:32]}"


def _timeout(seconds: float) -> int:
    return max(1, math.ceil(seconds))  # Redis takes whole seconds, and 0 would delete the key


def _count(key: str, *, delta: int, timeout: float, extend: bool = False) -> int:
    """Add `delta` to a counter made to expire `timeout` seconds from now, or (`extend`) from its last count."""
    cache = caches[CACHE]
    with _count_lock:
        if cache.add(key, delta, _timeout(timeout)):
            return delta
        try:
            count = cache.incr(key, delta)
        except ValueError:  # expired between the two calls
            cache.set(key, delta, _timeout(timeout))
            return delta
        if extend:
            cache.touch(key, _timeout(timeout))
        return count


def lockout_check(*, rule: FailureRule, subject: str) -> None:
    """Raise TooManyRequests while `subject` is locked out; the first look after the cool-off releases it."""
    cache = caches[CACHE]
    key = _key("lock", rule.name, subject)
    until = cache.get(key)
    if until is None:
        return
    left = until - time.time()
    if left > 0:
        seconds = math.ceil(left)
        raise TooManyRequests(LOCKED_OUT.format(seconds=seconds), retry_after_seconds=seconds)
    if cache.delete(key):  # whoever deletes it records the release, once
        audit_record(
            actor=None,
            action=f"{rule.name}.release",
            target=f"{rule.subject} {subject}",
            outcome=AuditOutcome.OK,
            detail=f"The lockout ended after {rule.cool_off:g} s.",
        )


def failure_record(*, rule: FailureRule, subject: str) -> bool:
    """Count one failure of `subject`; True when it now is locked out (the lockout is audited once)."""
    failures = _count(_key("fail", rule.name, subject), delta=1, timeout=rule.window, extend=True)
    if failures < rule.limit:
        return False
    cache = caches[CACHE]
    until = time.time() + rule.cool_off
    if cache.add(_key("lock", rule.name, subject), until, _timeout(rule.cool_off + RELEASE_MEMORY_SECONDS)):
        cache.delete(_key("fail", rule.name, subject))  # spent: after the lockout, counting starts afresh
        audit_record(
            actor=None,
            action=f"{rule.name}.lockout",
            target=f"{rule.subject} {subject}",
            outcome=AuditOutcome.ERROR,
            detail=f"{failures} failed attempts: refused for {rule.cool_off:g} s.",
        )
    return True


def failures_clear(*, rule: FailureRule, subject: str) -> None:
    """Forget the failures counted so far (after a success)."""
    caches[CACHE].delete(_key("fail", rule.name, subject))


# --- request rates ----------------------------------------------------------------------------------------
PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def rate_parse(rate: str) -> tuple[int, int]:
    """Requests and seconds of a rate: 1200/min is (1200, 60); s, min, hour or day, by its first letter."""
    count, _, period = rate.partition("/")
    return int(count), PERIODS[period.strip()[:1].lower()]


@dataclass(slots=True)
class _Window:
    shared: int = 0  # the shared count as of this process's last flush
    pending: int = 0  # requests of this process not yet added to it


_windows: dict[str, _Window] = {}
_windows_lock = threading.Lock()
_WINDOWS_KEPT = 10_000


def request_rate_take(*, subject: str, rate: str) -> None:
    """Count one request of `subject` (e.g. a token); raise TooManyRequests beyond `rate`.

    Each process adds its requests to the shared count in small batches (a 50th of the limit), so a busy
    token costs the cache one write per batch rather than per request; the count is short by at most one
    batch per process.
    """
    limit, period = rate_parse(rate)
    now = time.time()
    index = int(now // period)
    key = f"{_key('rate', 'api', subject)}.{index}"
    local = caches[CACHE].make_key(key)  # the cache's prefix too: tests give each test its own
    with _windows_lock:
        window = _windows.get(local)
        if window is None:
            if len(_windows) >= _WINDOWS_KEPT:  # past windows: what they held no longer counts
                _windows.clear()
            window = _windows[local] = _Window()
        window.pending += 1
        if window.pending >= max(1, limit // 50):
            delta, window.pending = window.pending, 0
            flush = True
        else:
            flush = False
        total = window.shared + window.pending
    if flush:
        total = _count(key, delta=delta, timeout=period * 2)
        with _windows_lock:
            window.shared = max(window.shared, total)
            total += window.pending
    if total > limit:
        seconds = math.ceil((index + 1) * period - now)
        raise TooManyRequests(RATE_EXCEEDED.format(seconds=seconds), retry_after_seconds=seconds)


def bearer_failure_record(*, address: str) -> None:
    """A wrong bearer token from `address`: counted; raises TooManyRequests while the address is locked out.

    Only failures look at the lockout: a token cannot be guessed, so what the lockout stops is the flood of
    wrong ones, and a service with a valid token is never refused for what another client at its address did.
    """
    lockout_check(rule=BEARER_ADDRESS, subject=address)
    failure_record(rule=BEARER_ADDRESS, subject=address)
