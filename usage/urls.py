from __future__ import annotations

from django.urls import path

from usage.api import UsageCollectApi

app_name = "usage"

urlpatterns = [
    path("collect", UsageCollectApi.as_view(), name="collect"),
]
