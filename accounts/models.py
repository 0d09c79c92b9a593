from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone


class UserManager(BaseUserManager):
    """Django's doors (createsuperuser, create_user) into accounts.services.user_create, so every
    user the manager creates gets its billing account in the same transaction."""

    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        # The service module imports this one; imported here so models load first.
        from accounts.services import user_create

        return user_create(email=email, password=password, **extra)

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        if not (extra["is_staff"] and extra["is_superuser"]):
            raise ValueError("A superuser must have is_staff and is_superuser.")
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(unique=True)
    # Auth0 `sub`, e.g. "auth0|64f..."; null until the user arrives through Auth0.
    auth0_subject = models.CharField(max_length=255, unique=True, null=True, blank=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)
    # Where the user's Hopsworks account lives; set by provisioning.
    cluster = models.ForeignKey(
        "clusters.Cluster", null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    hopsworks_username = models.CharField(max_length=64, blank=True)
    hopsworks_user_id = models.BigIntegerField(null=True, blank=True)
    # Staff exempted this user from automatic suspension (audit: SuspensionAction).
    suspension_exempt = models.BooleanField(default=False)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email

    def get_short_name(self) -> str:
        return self.first_name or self.email


class RunBase(models.Model):
    """A resumable run of recorded steps (accounts.runs): the fields every run shares. The
    concrete run adds its owner and its own `status` (with its own choices)."""

    status = models.CharField(max_length=16)
    current_step = models.CharField(max_length=32, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A worker claims the run until this time, so two workers never run it at once.
    locked_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class StepBase(models.Model):
    """One recorded step of a run; the concrete step adds `run` and its own `status`."""

    name = models.CharField(max_length=32)
    position = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=16)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # What the step produced or stopped (recorded before acting), for the panel and resuming.
    detail = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.name}: {self.status}"


class ProvisioningStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    SKIPPED = "skipped", "Skipped (not needed)"
    NOT_CONFIGURED = "not_configured", "Skipped (not configured)"
    WAITING = "waiting", "Waiting to retry"
    FAILED = "failed", "Failed (needs staff)"


class ProvisioningRun(RunBase):
    """The signup provisioning of one user: a resumable sequence of steps (see
    accounts.services.provisioning_run). One run per user; resuming reuses it."""

    user = models.OneToOneField(User, on_delete=models.PROTECT, related_name="provisioning")
    status = models.CharField(
        max_length=16, choices=ProvisioningStatus.choices, default=ProvisioningStatus.PENDING
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"{self.user} ({self.status})"


class ProvisioningStep(StepBase):
    run = models.ForeignKey(ProvisioningRun, on_delete=models.CASCADE, related_name="steps")
    status = models.CharField(
        max_length=16, choices=ProvisioningStatus.choices, default=ProvisioningStatus.PENDING
    )

    class Meta:
        ordering = ["run", "position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "name"], name="provisioning_step_unique_name")
        ]


class SuspensionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    SKIPPED = "skipped", "Skipped (nothing to do)"
    WAITING = "waiting", "Waiting to retry"
    FAILED = "failed", "Failed (needs staff)"
    CANCELED = "canceled", "Canceled (superseded)"


class SuspensionKind(models.TextChoices):
    SUSPEND = "suspend", "Suspend"
    RESUME = "resume", "Resume"
    # The spend cap: stop running work without blocking the user, and lift that.
    PAUSE = "pause", "Pause (spend cap)"
    UNPAUSE = "unpause", "Unpause"


class SuspensionCause(models.TextChoices):
    DUNNING = "dunning", "Unpaid invoice, grace period over"
    PREPAID_ARREARS = "prepaid_arrears", "Prepaid balance below zero too long"
    SUBSCRIPTION_CANCELED = "subscription_canceled", "Subscription canceled"
    PAYMENT = "payment", "Payment received"
    BALANCE_RESTORED = "balance_restored", "Prepaid balance back at or above zero"
    STAFF = "staff", "Staff"
    SPEND_CAP = "spend_cap", "Spend cap reached"
    SPEND_CAP_LIFTED = "spend_cap_lifted", "Spend cap lifted"


class SuspensionRun(RunBase):
    """One suspension (stop deployments, stop job executions, block the user) or one resume
    (unblock the user) of a user's Hopsworks access: a resumable sequence of recorded steps
    (accounts.suspension). A newer run cancels the unfinished ones of the same user."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="suspension_runs")
    kind = models.CharField(max_length=16, choices=SuspensionKind.choices)
    cause = models.CharField(max_length=32, choices=SuspensionCause.choices)
    note = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        max_length=16, choices=SuspensionStatus.choices, default=SuspensionStatus.PENDING
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status"]), models.Index(fields=["user", "-id"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.user} ({self.status})"


class SuspensionStep(StepBase):
    run = models.ForeignKey(SuspensionRun, on_delete=models.CASCADE, related_name="steps")
    status = models.CharField(
        max_length=16, choices=SuspensionStatus.choices, default=SuspensionStatus.PENDING
    )

    class Meta:
        ordering = ["run", "position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "name"], name="suspension_step_unique_name")
        ]


class SuspensionAction(models.Model):
    """Audit row of a staff decision: suspend now, resume now, exempt, end an exemption."""

    class Action(models.TextChoices):
        SUSPEND = "suspend", "Suspend now"
        RESUME = "resume", "Resume now"
        EXEMPT = "exempt", "Exempt from suspension"
        UNEXEMPT = "unexempt", "End exemption"

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="suspension_actions")
    action = models.CharField(max_length=16, choices=Action.choices)
    reason = models.TextField()
    staff = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(reason=""), name="suspension_action_reason_required"
            )
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.user} by {self.staff}"
