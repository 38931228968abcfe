"""App config: after `migrate`, the service groups exist with their default scopes, and the admin that
CONTAINERSVC_ADMIN_USERNAME names."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ContainerSvcConfig(AppConfig):
    name = "containersvc"
    verbose_name = "Container Svc"

    def ready(self) -> None:
        from containersvc import (
            checks,  # noqa: F401  (registers system checks)
            logins,
            revocation,
        )
        from containersvc.api import schema  # noqa: F401  (registers the bearer scheme with the schema)

        post_migrate.connect(_create_service_groups, sender=self, dispatch_uid="containersvc-groups")
        post_migrate.connect(_create_admin_from_settings, sender=self, dispatch_uid="containersvc-admin")
        logins.connect()  # password logins audited, failures counted
        revocation.connect()  # access taken away ends the user's open sockets at once


def _create_service_groups(sender: AppConfig, **kwargs) -> None:
    from containersvc.services.accounts import service_groups_ensure

    service_groups_ensure(using=kwargs.get("using", "default"))


def _create_admin_from_settings(sender: AppConfig, **kwargs) -> None:
    from containersvc.services.accounts import admin_from_settings_ensure

    admin_from_settings_ensure(using=kwargs.get("using", "default"))
