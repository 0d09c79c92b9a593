"""The OpenAPI schema documents the billing endpoints; the docs page loads no CDN asset."""

from __future__ import annotations

import re

import yaml


def test_schema_documents_the_billing_endpoints(client, db):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    paths = schema["paths"]
    assert {"/api/billing", "/api/billing/balance", "/api/admin/billing"} <= set(paths)
    assert set(paths["/api/billing"]["get"]["responses"]) >= {"200", "400", "403", "404"}
    assert set(paths["/api/admin/billing"]["post"]["responses"]) >= {"200", "400", "403", "409"}
    params = {p["name"] for p in paths["/api/billing"]["get"]["parameters"]}
    assert {"days", "account_id"} <= params


def test_docs_page_uses_only_local_assets(client, db):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls and all(not u.startswith(("http://", "https://", "//")) for u in urls), urls
    assert "cdn" not in html.lower()
