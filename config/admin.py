"""Admin pieces every app's panel shares."""

from __future__ import annotations

from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import reverse


class ReadOnlyAdmin(admin.ModelAdmin):
    """History rows: visible to staff, never edited or deleted from the panel."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def action_form_page(
    modeladmin: admin.ModelAdmin,
    request,
    *,
    action: str,
    title: str,
    form,
    targets: list[tuple[int, str]],
    intro: str = "",
    submit: str = "",
) -> TemplateResponse:
    """The intermediate page of an admin action that needs input (a reason, an amount) before
    it runs on the selected rows: `targets` are their (pk, label)."""
    opts = modeladmin.model._meta
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "submit": submit or title,
        "intro": intro or f"{len(targets)} selected:",
        "form": form,
        "targets": targets,
        "action": action,
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        "changelist_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
        "opts": opts,
    }
    return TemplateResponse(request, "admin/action_form.html", context)
