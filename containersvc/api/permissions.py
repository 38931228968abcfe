"""One permission class for every endpoint: the view names its scope, the user must hold it."""

from rest_framework.permissions import BasePermission

from containersvc import scopes


class HasRequiredScope(BasePermission):
    def has_permission(self, request, view) -> bool:
        scope: scopes.Scope = view.required_scope
        if not (request.user and request.user.is_authenticated):
            return False
        self.message = scopes.scope_missing_message(scope)
        return scopes.scope_held(request.user, scope)
