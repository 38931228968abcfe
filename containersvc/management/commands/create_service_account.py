"""`manage.py create_service_account NAME [--group GROUP ...]`: prints a new bearer token on its last line."""

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

from containersvc.services.accounts import service_account_create


class Command(BaseCommand):
    help = "Create a service account (if needed), add it to groups, and print a new bearer token."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="The account's user name, e.g. model-svc.")
        parser.add_argument("--group", action="append", default=[], help="A group to join (repeatable).")

    def handle(self, *args, name: str, group: list[str], **options) -> None:
        missing = [item for item in group if not Group.objects.filter(name=item).exists()]
        if missing:
            raise CommandError(
                f"No such group: {', '.join(missing)}. Known: {', '.join(Group.objects.values_list('name', flat=True))}"
            )
        issued = service_account_create(username=name, groups=group)
        self.stderr.write(f"Token for {name} (shown once; store it now):")
        self.stdout.write(issued.token)
