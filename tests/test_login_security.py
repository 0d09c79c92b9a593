"""Login pages: CSRF-protected forms and lockout after repeated failures (django-axes)."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings


def test_login_form_carries_a_csrf_token(client, db):
    assert b"csrfmiddlewaretoken" in client.get("/accounts/login/").content


def test_login_without_csrf_token_is_refused(owner):
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(
        "/accounts/login/", {"username": "owner@example.com", "password": "pw-owner-123"}
    )
    assert response.status_code == 403


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
@override_settings(AXES_ENABLED=True)
def test_repeated_failures_lock_the_login_out(client, owner, path, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(path, {"username": "owner@example.com", "password": "wrong"})
    response = client.post(path, {"username": "owner@example.com", "password": "pw-owner-123"})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
@override_settings(AXES_ENABLED=True)
def test_an_over_long_username_is_a_form_error_not_a_server_error(client, owner, path):
    response = client.post(path, {"username": "a" * 300 + "@example.com", "password": "x"})
    assert response.status_code == 200
    assert b"at most 254 characters" in response.content
    assert "_auth_user_id" not in client.session
