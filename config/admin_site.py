"""The staff panel's site: titled "Hopsbill staff"; dj-stripe's mirror models kept off the
index (they would crowd it and add a second "Prices" next to ours) but still reachable at
<ADMIN_URL>djstripe/, linked from the index."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig

HIDDEN_FROM_INDEX = {"djstripe"}


class HopsbillAdminSite(admin.AdminSite):
    site_header = "Hopsbill staff"
    site_title = "Hopsbill staff"
    index_title = "Billing, usage and clusters"
    index_template = "admin/hopsbill_index.html"

    def get_app_list(self, request, app_label=None):
        apps = super().get_app_list(request, app_label)
        if app_label is not None:
            return apps  # the app's own page (e.g. djstripe/) lists its models as usual
        return [app for app in apps if app["app_label"] not in HIDDEN_FROM_INDEX]


class HopsbillAdminConfig(AdminConfig):
    default_site = "config.admin_site.HopsbillAdminSite"
