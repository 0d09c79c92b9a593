from __future__ import annotations

from django import forms
from django.contrib import admin

from clusters.models import Cluster


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
    list_display = ["name", "region", "hopsworks_url", "capacity", "is_active"]
    list_filter = ["is_active", "region"]
    search_fields = ["name", "hopsworks_url"]
