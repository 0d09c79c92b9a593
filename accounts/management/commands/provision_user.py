from __future__ import annotations

from django.core.management.base import CommandError

from accounts.models import ProvisioningStatus, User
from accounts.services import provisioning_run
from config.commands import OperatorCommand


class Command(OperatorCommand):
    help = "Run or resume a user's signup provisioning now (in this process) and show the steps."
    examples = ("provision_user alice@example.com",)

    def add_arguments(self, parser):
        parser.add_argument("email")

    def handle(self, *args, **opts):
        user = User.objects.filter(email__iexact=opts["email"].strip()).first()
        if user is None:
            raise CommandError(f"No user {opts['email']!r}.")
        run = provisioning_run(user=user)
        for step in run.steps.order_by("position"):
            line = f"{step.name:<20} {step.status:<15} attempts={step.attempts}"
            if step.detail:
                line += f" {step.detail}"
            if step.last_error:
                line += f" error: {step.last_error}"
            self.stdout.write(line)
        self.stdout.write(f"Run: {run.status}")
        if run.status in {ProvisioningStatus.WAITING, ProvisioningStatus.FAILED}:
            raise CommandError(run.last_error or f"Provisioning is {run.status}.")
        if run.status == ProvisioningStatus.RUNNING:
            raise CommandError("Another worker is running this provisioning right now.")
