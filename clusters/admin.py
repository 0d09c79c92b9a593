from __future__ import annotations

from django import forms
from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import reverse

from clusters.models import Cluster
from clusters.services import cluster_test_connection

# The most objects one "Test Hopsworks API" action calls (each is a live request).
TEST_LIMIT = 10


def hopsworks_test_page(request, *, admin_site, title: str, results: list[dict], back_url: str):
    """The admin page that shows each Hopsworks request, status, latency and raw answer."""
    context = {
        **admin_site.each_context(request),
        "title": title,
        "results": results,
        "back_url": back_url,
    }
    return TemplateResponse(request, "admin/hopsworks_test.html", context)


class ClusterForm(forms.ModelForm):
    """Secrets are write-only: the form never renders the stored value; blank keeps it."""

    api_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave blank to keep the stored key.",
    )
    kubeconfig = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Paste a new kubeconfig to replace it; leave blank to keep the stored one.",
    )

    class Meta:
        model = Cluster
        fields = [
            "name",
            "region",
            "hopsworks_url",
            "api_key",
            "kubeconfig",
            "auth0_client_id",
            "capacity",
            "is_active",
            "storage_source",
            "webhdfs_proxy_path",
            "prometheus_url",
            "api_call_queries",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial["kubeconfig"] = ""
        self.initial["api_key"] = ""

    def clean_api_key(self):
        return self.cleaned_data["api_key"] or (self.instance.api_key if self.instance.pk else "")

    def clean_kubeconfig(self):
        value = self.cleaned_data["kubeconfig"]
        return value or (self.instance.kubeconfig if self.instance.pk else "")


@admin.register(Cluster)
class ClusterAdmin(admin.ModelAdmin):
    form = ClusterForm
    list_display = ["name", "region", "hopsworks_url", "capacity", "user_count", "is_active"]
    list_filter = ["is_active", "region"]
    search_fields = ["name", "hopsworks_url"]
    actions = ["test_hopsworks_api"]

    @admin.display(description="Users")
    def user_count(self, obj: Cluster) -> int:
        return obj.users.count()

    @admin.action(description="Test Hopsworks API (connection)", permissions=["change"])
    def test_hopsworks_api(self, request, queryset):
        results = [
            {"label": cluster.name, "report": cluster_test_connection(cluster=cluster)}
            for cluster in queryset[:TEST_LIMIT]
        ]
        back = reverse("admin:clusters_cluster_changelist")
        return hopsworks_test_page(
            request,
            admin_site=self.admin_site,
            title="Test Hopsworks API: clusters",
            results=results,
            back_url=back,
        )
