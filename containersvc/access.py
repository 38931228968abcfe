"""Who may do what to which container: the owner the service recorded, and the grants admins made.

Labels never grant anything (anyone can set them with `docker run --label` or an image's LABEL); ownership is
`Container.created_by`, set by the service when it creates a container. See docs/ownership.md.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import IntEnum

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.db.models.lookups import Exact

from containersvc import scopes, validation
from containersvc.errors import InvalidRequest, NotFound
from containersvc.models import AccessGrant, Container, GrantLevel
from containersvc.scopes import Scope

# What a grantee sees instead of an env value (keys stay: they say what a container is configured with).
MASKED_VALUE = "••••"
# Worded as engine.container_find words an unknown container: what may not be seen reads exactly the same.
MESSAGE_NOT_FOUND = "No container with id or name '{reference}'."
MESSAGE_GRANT_WHOM = "Give a user or a group, not both."
MESSAGE_GRANT_WHAT = "Give a label selector, a name prefix, or both."
MESSAGE_SELECTOR_INVALID = "label selector '{value}' is not valid: use 'key=value', or 'key' for any value."
MESSAGE_PREFIX_INVALID = "name prefix '{value}' is not valid: use letters, digits, '_', '.' and '-'."
_NAME_PREFIX = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")


class Level(IntEnum):
    NONE = 0
    VIEW = 1
    OPERATE = 2
    OWNER = 3


_GRANT_LEVELS: dict[str, Level] = {GrantLevel.VIEW: Level.VIEW, GrantLevel.OPERATE: Level.OPERATE}


@dataclass(frozen=True, slots=True)
class LabelSelector:
    key: str
    value: str | None  # None: the label's presence is enough

    def matches(self, labels: dict[str, str]) -> bool:
        return self.key in labels and (self.value is None or labels[self.key] == self.value)

    def condition(self) -> Q:
        if self.value is None:
            return Q(labels__has_key=self.key)
        return Q(Exact(KeyTextTransform(self.key, "labels"), self.value))


def label_selector(text: str) -> LabelSelector:
    key, equals, value = text.partition("=")
    if not validation.LABEL_KEY.fullmatch(key) or len(text) > 512 or any(char < " " for char in value):
        raise InvalidRequest(MESSAGE_SELECTOR_INVALID.format(value=text[:100]))
    return LabelSelector(key=key, value=value if equals else None)


def grant_clean(*, grant: AccessGrant) -> None:
    """The admin form's check: exactly one of user and group, a selector and/or a prefix, each well formed."""
    errors: dict[str, str] = {}
    if (grant.user_id is None) == (grant.group_id is None):
        errors["user"] = MESSAGE_GRANT_WHOM
    if not grant.label_selector and not grant.name_prefix:
        errors["label_selector"] = MESSAGE_GRANT_WHAT
    if grant.label_selector:
        try:
            label_selector(grant.label_selector)
        except InvalidRequest as error:
            errors["label_selector"] = error.message
    if grant.name_prefix and not _NAME_PREFIX.fullmatch(grant.name_prefix):
        errors["name_prefix"] = MESSAGE_PREFIX_INVALID.format(value=grant.name_prefix[:100])
    if errors:
        raise ValidationError(errors)


@dataclass(frozen=True, slots=True)
class _GrantRule:
    """What one grant covers, a name prefix and/or a label selector (a grant with both needs both), asked of rows
    in hand (`matches`) or of the database (`condition`): the same rule, side by side."""

    name_prefix: str
    selector: LabelSelector | None

    def matches(self, container: Container) -> bool:
        if self.name_prefix and not (container.name or "").startswith(self.name_prefix):
            return False
        return self.selector is None or self.selector.matches(container.labels or {})

    def condition(self) -> Q:
        condition = Q()
        if self.name_prefix:
            condition &= Q(name__startswith=self.name_prefix)
        if self.selector is not None:
            condition &= self.selector.condition()
        return condition


def _grant_rule(grant: AccessGrant) -> _GrantRule:
    selector = label_selector(grant.label_selector) if grant.label_selector else None
    return _GrantRule(name_prefix=grant.name_prefix, selector=selector)


def _is_active(actor) -> bool:
    return bool(actor is not None and getattr(actor, "is_authenticated", False) and actor.is_active)


def _grants_of(actor) -> list[AccessGrant]:
    return list(AccessGrant.objects.filter(Q(user=actor) | Q(group__in=actor.groups.all())))


def access_level(*, actor, container: Container) -> Level:
    """What `actor` may do to `container`: superusers and the owner everything, grantees what grants say."""
    if not _is_active(actor):
        return Level.NONE
    if actor.is_superuser or (container.created_by_id is not None and container.created_by_id == actor.pk):
        return Level.OWNER
    levels = [_GRANT_LEVELS[grant.level] for grant in _grants_of(actor) if _grant_rule(grant).matches(container)]
    return max(levels, default=Level.NONE)


def access_require(*, actor, container: Container, level: Level, reference: str | None = None) -> None:
    """NotFound, worded as for an unknown container, unless `actor` has `level` on `container`.

    `reference` is the id or name the caller asked for (the container's id when not given).
    """
    if access_level(actor=actor, container=container) < level:
        raise NotFound(MESSAGE_NOT_FOUND.format(reference=reference or container.container_id))


def visible_containers(*, actor, rows: QuerySet[Container]) -> QuerySet[Container]:
    """The rows `actor` may see (Level.VIEW or more), as a database filter."""
    return sight_of(actor).containers(rows)


def visible_ids(*, actor, container_ids: Iterable[str]) -> set[str]:
    """Which of these containers of this node `actor` may see: one query (sockets and payloads that name them)."""
    rows = Container.objects.filter(node_id=settings.CONTAINERSVC_NODE_ID, container_id__in=list(container_ids))
    return set(visible_containers(actor=actor, rows=rows).values_list("container_id", flat=True))


@dataclass(frozen=True, slots=True)
class Sight:
    """Which containers one account may see (Level.VIEW or more) and whose env values, its grants read once:
    access_level's rule for rows in hand (a list of hundreds would otherwise ask the database again for rows it
    holds) or as a database filter."""

    everything: bool  # an active superuser
    actor_pk: int | None  # None: an inactive or anonymous account, which sees nothing
    rules: tuple[_GrantRule, ...] = ()

    def rows(self, rows: list[Container]) -> list[Container]:
        """Those of `rows` seen, in their order."""
        if self.everything:
            return rows
        if self.actor_pk is None:
            return []
        actor_pk, rules = self.actor_pk, self.rules
        return [row for row in rows if row.created_by_id == actor_pk or any(rule.matches(row) for rule in rules)]

    def containers(self, rows: QuerySet[Container]) -> QuerySet[Container]:
        """Those of `rows` seen, as a database filter: `rows()`' rule, said to the database."""
        if self.everything:
            return rows
        if self.actor_pk is None:
            return rows.none()
        condition = Q(created_by_id=self.actor_pk)
        for rule in self.rules:
            condition |= rule.condition()
        return rows.filter(condition)

    def env_visible(self, container: Container) -> bool:
        """Env values are the owner's and superusers'; grantees see the keys with masked values."""
        # Grants stop at OPERATE, so this is access_level(...) >= OWNER without reading grants.
        return self.everything or (self.actor_pk is not None and container.created_by_id == self.actor_pk)


def _sight_without_grants(actor) -> Sight:
    if not _is_active(actor):
        return Sight(everything=False, actor_pk=None)
    return Sight(everything=actor.is_superuser, actor_pk=actor.pk)


def sight_of(actor) -> Sight:
    sight = _sight_without_grants(actor)
    if sight.everything or sight.actor_pk is None:
        return sight
    return replace(sight, rules=tuple(_grant_rule(grant) for grant in _grants_of(actor)))


def visible_rows(*, actor, rows: list[Container]) -> list[Container]:
    """The rows `actor` may see (Level.VIEW or more) among rows in hand, in their order."""
    return sight_of(actor).rows(rows)


def env_visible(*, actor, container: Container) -> bool:
    return _sight_without_grants(actor).env_visible(container)


def envs_masked(envs: list[dict]) -> list[dict]:
    """`[{key, value}]` as a grantee sees it: the one masking of env values (lists, inspect and the dashboard)."""
    return [{"key": item["key"], "value": MASKED_VALUE} for item in envs]


def logs_visible(*, actor, container: Container) -> bool:
    """Log lines need the log:view scope and sight of the container."""
    return _is_active(actor) and (
        scopes.scope_held(actor, Scope.LOG_VIEW) and access_level(actor=actor, container=container) >= Level.VIEW
    )
