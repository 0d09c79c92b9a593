from __future__ import annotations

from django.db import models

from clusters.encryption import EncryptedTextField


class StorageSource(models.TextChoices):
    NONE = "none", "Not configured"
    WEBHDFS = "webhdfs", "WebHDFS through the Kubernetes service proxy"


def default_api_call_queries() -> dict:
    return {}


class Cluster(models.Model):
    """A managed Hopsworks cluster. Secrets are encrypted at rest and never displayed."""

    name = models.SlugField(max_length=64, unique=True)
    region = models.CharField(max_length=64, blank=True)
    hopsworks_url = models.URLField(
        help_text="REST base, e.g. https://c1.example.com/hopsworks-api/api"
    )
    api_key = EncryptedTextField(blank=True)
    kubeconfig = EncryptedTextField(blank=True, help_text="Kubeconfig YAML for this cluster.")
    auth0_client_id = models.CharField(max_length=128, blank=True)
    capacity = models.PositiveIntegerField(default=100, help_text="Maximum number of users.")
    is_active = models.BooleanField(default=True)
    # Usage sources beyond pods (usage/services): storage per project and API calls per project.
    storage_source = models.CharField(
        max_length=16, choices=StorageSource.choices, default=StorageSource.NONE
    )
    webhdfs_proxy_path = models.CharField(
        max_length=255,
        blank=True,
        help_text="Kubernetes service proxy of the namenode's WebHDFS, e.g. "
        "/api/v1/namespaces/hopsworks/services/namenode:50070/proxy",
    )
    prometheus_url = models.URLField(blank=True, help_text="Base URL of the cluster's Prometheus.")
    api_call_queries = models.JSONField(
        default=default_api_call_queries,
        blank=True,
        help_text='PromQL per category: {"featureStore": ..., "modelServing": ..., "jobs": ...}; '
        "{window} becomes the day's length (e.g. 86400s); results are grouped by `namespace`.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
