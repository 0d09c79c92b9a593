from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import UserCreationForm
from django.urls import reverse

from accounts.models import ProvisioningRun, ProvisioningStep, User
from accounts.services import provisioning_retry, user_open
from clusters.admin import TEST_LIMIT, hopsworks_test_page
from clusters.services import ClusterError, user_test_hopsworks


class EmailUserCreationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ["email"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    add_form = EmailUserCreationForm
    ordering = ["email"]
    list_display = ["email", "auth0_subject", "cluster", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_active", "cluster"]
    search_fields = ["email", "auth0_subject", "first_name", "last_name", "hopsworks_username"]
    list_select_related = ["cluster"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["first_name", "last_name", "auth0_subject"]}),
        ("Hopsworks", {"fields": ["cluster", "hopsworks_username", "hopsworks_user_id"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]
    actions = ["test_hopsworks_api", "retry_provisioning"]

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


class ProvisioningStepInline(admin.TabularInline):
    model = ProvisioningStep
    extra = 0
    can_delete = False
    fields = ["name", "status", "attempts", "last_error", "detail", "started_at", "finished_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ProvisioningRun)
class ProvisioningRunAdmin(admin.ModelAdmin):
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
    list_select_related = ["user"]
    readonly_fields = [
        "user",
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
    inlines = [ProvisioningStepInline]
    actions = ["retry_provisioning"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Last error")
    def short_error(self, obj: ProvisioningRun) -> str:
        return obj.last_error[:80]

    @admin.action(description="Retry provisioning", permissions=["change"])
    def retry_provisioning(self, request, queryset):
        for run in queryset.select_related("user"):
            provisioning_retry(user=run.user)
        self.message_user(request, f"Provisioning queued again for {queryset.count()} run(s).")
