"""App config: after `migrate`, the service groups exist with their default scopes."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ContainerSvcConfig(AppConfig):
    name = "containersvc"
    verbose_name = "Container Svc"

    def ready(self) -> None:
        from containersvc import checks  # noqa: F401  (registers system checks)
        from containersvc.api import schema  # noqa: F401  (registers the bearer scheme with the schema)

        post_migrate.connect(_create_service_groups, sender=self, dispatch_uid="containersvc-groups")


def _create_service_groups(sender: AppConfig, **kwargs) -> None:
    from containersvc.services.accounts import service_groups_ensure

    service_groups_ensure(using=kwargs.get("using", "default"))
