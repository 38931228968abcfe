"""The five permission scopes and the Django permissions they are: one table, read both ways."""

from enum import StrEnum

APP_LABEL = "containersvc"
# The one wording of a refusal for a missing scope (API 403 body, dashboard 403).
MESSAGE_SCOPE_MISSING = "Missing scope {scope}."


class Scope(StrEnum):
    CONTAINER_VIEW = "container-svc:container:view"
    CONTAINER_RUN = "container-svc:container:run"
    CONTAINER_STOP = "container-svc:container:stop"
    LOG_VIEW = "container-svc:log:view"
    IMAGE_BUILD = "container-svc:image:build"


# scope -> (permission codename, human description)
PERMISSIONS: dict[Scope, tuple[str, str]] = {
    Scope.CONTAINER_VIEW: ("container_view", "See containers, the node and images"),
    Scope.CONTAINER_RUN: ("container_run", "Create and start containers"),
    Scope.CONTAINER_STOP: ("container_stop", "Stop and remove containers"),
    Scope.LOG_VIEW: ("log_view", "Read container logs, live or stored"),
    Scope.IMAGE_BUILD: ("image_build", "Build images"),
}

SERVICE_GROUPS: dict[str, tuple[Scope, ...]] = {
    "model-svc": (Scope.CONTAINER_VIEW, Scope.CONTAINER_RUN, Scope.CONTAINER_STOP, Scope.LOG_VIEW),
    "deploy-svc": tuple(Scope),
}


def codename(scope: Scope) -> str:
    return PERMISSIONS[scope][0]


def permission_name(scope: Scope) -> str:
    """The `app_label.codename` string `user.has_perm` takes."""
    return f"{APP_LABEL}.{codename(scope)}"


def scope_for_codename(name: str) -> Scope | None:
    return next((scope for scope, (code, _) in PERMISSIONS.items() if code == name), None)


def model_permissions() -> list[tuple[str, str]]:
    """`Meta.permissions` of the model that carries the scopes."""
    return [(code, f"{scope.value} — {description}") for scope, (code, description) in PERMISSIONS.items()]


def _is_active(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def scope_held(user, scope: Scope) -> bool:
    """The one scope check: an active, authenticated user holding the scope's permission (superusers hold all)."""
    return _is_active(user) and user.has_perm(permission_name(scope))


async def ascope_held(user, scope: Scope) -> bool:
    """scope_held for async callers (websockets): the permission read runs off the event loop."""
    return _is_active(user) and await user.ahas_perm(permission_name(scope))


def scope_missing_message(scope: Scope) -> str:
    return MESSAGE_SCOPE_MISSING.format(scope=scope.value)


def scopes_of(user) -> set[Scope]:
    return {scope for scope in Scope if scope_held(user, scope)}
