from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import UserCreationForm

from accounts.models import User
from billing.services import billing_account_ensure


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

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        billing_account_ensure(user=obj)
