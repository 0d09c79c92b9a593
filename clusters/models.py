from __future__ import annotations

from django.db import models

from clusters.encryption import EncryptedTextField


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
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
