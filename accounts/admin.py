from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import UserCreationForm
from django.urls import reverse

from accounts import suspension
from accounts.models import (
    ProvisioningRun,
    ProvisioningStep,
    RunBase,
    SuspensionAction,
    SuspensionRun,
    SuspensionStep,
    User,
)
from accounts.services import provisioning_retry, user_open
from clusters.admin import TEST_LIMIT, hopsworks_test_page
from clusters.services import ClusterError, user_test_hopsworks
from config.admin import ReadOnlyAdmin, action_form_page


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label="Reason (kept in the audit log)",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=2000,
    )


SUSPENSION_ACTIONS = {
    "suspend_now": ("Suspend now", suspension.suspension_staff_suspend, {}),
    "resume_now": ("Resume now", suspension.suspension_staff_resume, {}),
    "exempt": ("Exempt from suspension", suspension.suspension_exempt_set, {"exempt": True}),
    "end_exemption": ("End exemption", suspension.suspension_exempt_set, {"exempt": False}),
}


class EmailUserCreationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ["email"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    add_form = EmailUserCreationForm
    ordering = ["email"]
    list_display = [
        "email",
        "auth0_subject",
        "cluster",
        "suspension_exempt",
        "is_staff",
        "is_active",
        "date_joined",
    ]
    list_filter = ["is_staff", "is_active", "suspension_exempt", "cluster"]
    search_fields = ["email", "auth0_subject", "first_name", "last_name", "hopsworks_username"]
    list_select_related = ["cluster"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["first_name", "last_name", "auth0_subject"]}),
        ("Hopsworks", {"fields": ["cluster", "hopsworks_username", "hopsworks_user_id"]}),
        ("Suspension", {"fields": ["suspension_exempt"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]
    actions = ["test_hopsworks_api", "retry_provisioning", *SUSPENSION_ACTIONS]
    # Exemption changes go through the audited action, never the edit form.
    readonly_fields = ["suspension_exempt"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        user_open(user=obj)

    @admin.action(description="Test Hopsworks API (user lookup and projects)", permissions=["view"])
    def test_hopsworks_api(self, request, queryset):
        results = []
        for user in queryset.select_related("cluster")[:TEST_LIMIT]:
            try:
                report = user_test_hopsworks(user=user)
            except ClusterError as exc:
                self.message_user(request, f"{user.email}: {exc}", messages.WARNING)
                continue
            results.append({"label": user.email, "report": report})
        if not results:
            return None
        return hopsworks_test_page(
            request,
            admin_site=self.admin_site,
            title="Test Hopsworks API: users",
            results=results,
            back_url=reverse("admin:accounts_user_changelist"),
        )

    @admin.action(description="Retry provisioning", permissions=["change"])
    def retry_provisioning(self, request, queryset):
        for user in queryset:
            provisioning_retry(user=user)
        self.message_user(request, f"Provisioning queued again for {queryset.count()} user(s).")

    @admin.action(description="Suspend now (reason required)", permissions=["change"])
    def suspend_now(self, request, queryset):
        return self._with_reason(request, queryset, "suspend_now")

    @admin.action(description="Resume now (reason required)", permissions=["change"])
    def resume_now(self, request, queryset):
        return self._with_reason(request, queryset, "resume_now")

    @admin.action(description="Exempt from suspension (reason required)", permissions=["change"])
    def exempt(self, request, queryset):
        return self._with_reason(request, queryset, "exempt")

    @admin.action(description="End exemption (reason required)", permissions=["change"])
    def end_exemption(self, request, queryset):
        return self._with_reason(request, queryset, "end_exemption")

    def _with_reason(self, request, queryset, action: str):
        """An intermediate page asks for the reason, then calls the service for each user."""
        title, service, extra = SUSPENSION_ACTIONS[action]
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            for user in queryset:
                try:
                    service(
                        user=user, staff=request.user, reason=form.cleaned_data["reason"], **extra
                    )
                except suspension.SuspensionInvalid as exc:
                    self.message_user(request, f"{user.email}: {exc}", messages.ERROR)
                    return None
            self.message_user(request, f"{title}: {queryset.count()} user(s).", messages.SUCCESS)
            return None
        return action_form_page(
            self,
            request,
            action=action,
            title=title,
            form=form,
            targets=[(user.pk, user.email) for user in queryset],
        )


class StepInline(admin.TabularInline):
    """The steps of a run, read-only: what each did, its attempts and its last error."""

    extra = 0
    can_delete = False
    fields = ["name", "status", "attempts", "last_error", "detail", "started_at", "finished_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


# The fields every run has (accounts.models.RunBase), shown read-only after the run's own.
RUN_FIELDS = [
    "status",
    "current_step",
    "attempts",
    "last_error",
    "next_attempt_at",
    "locked_until",
    "created_at",
    "updated_at",
    "finished_at",
]


class RunAdmin(admin.ModelAdmin):
    """A run of recorded steps: read-only, changed only through its retry action."""

    list_select_related = ["user"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Last error")
    def short_error(self, obj: RunBase) -> str:
        return obj.last_error[:80]


class ProvisioningStepInline(StepInline):
    model = ProvisioningStep


@admin.register(ProvisioningRun)
class ProvisioningRunAdmin(RunAdmin):
    list_display = [
        "user",
        "status",
        "current_step",
        "attempts",
        "next_attempt_at",
        "updated_at",
        "short_error",
    ]
    list_filter = ["status", "current_step"]
    search_fields = ["user__email", "last_error"]
    readonly_fields = ["user", *RUN_FIELDS]
    inlines = [ProvisioningStepInline]
    actions = ["retry_provisioning"]

    @admin.action(description="Retry provisioning", permissions=["change"])
    def retry_provisioning(self, request, queryset):
        for run in queryset.select_related("user"):
            provisioning_retry(user=run.user)
        self.message_user(request, f"Provisioning queued again for {queryset.count()} run(s).")


class SuspensionStepInline(StepInline):
    model = SuspensionStep


@admin.register(SuspensionRun)
class SuspensionRunAdmin(RunAdmin):
    """Where staff see a stuck suspension: the step, its attempts and its last error."""

    list_display = [
        "user",
        "kind",
        "cause",
        "status",
        "current_step",
        "attempts",
        "next_attempt_at",
        "created_at",
        "short_error",
    ]
    list_filter = ["kind", "status", "cause", "current_step"]
    search_fields = ["user__email", "last_error", "note"]
    readonly_fields = ["user", "kind", "cause", "note", "requested_by", *RUN_FIELDS]
    inlines = [SuspensionStepInline]
    actions = ["retry_run"]

    @admin.action(description="Retry now", permissions=["change"])
    def retry_run(self, request, queryset):
        for run in queryset:
            suspension.suspension_retry(run=run)
        self.message_user(request, f"{queryset.count()} run(s) queued again.")


@admin.register(SuspensionAction)
class SuspensionActionAdmin(ReadOnlyAdmin):
    """The audit log of staff suspension decisions."""

    list_display = ["created_at", "user", "action", "staff", "reason"]
    list_filter = ["action"]
    search_fields = ["user__email", "staff__email", "reason"]
    list_select_related = ["user", "staff"]
