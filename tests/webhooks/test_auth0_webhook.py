from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from accounts.models import ProvisioningRun, User
from billing.models import BillingAccount
from webhooks.models import WebhookEvent

URL = "/api/webhooks/auth0"
SECRET = "whsec-auth0-test-secret"
BODY = {
    "user_id": "auth0|64f1c0ffee",
    "email": "Newbie@Example.com",
    "name": "New Bie",
    "given_name": "New",
    "family_name": "Bie",
}


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.AUTH0_WEBHOOK_SECRET = SECRET


def _sign(raw: bytes, *, ts: int | None = None, secret: str = SECRET) -> dict[str, str]:
    ts = int(time.time()) if ts is None else ts
    digest = hmac.new(secret.encode(), f"{ts}.".encode() + raw, hashlib.sha256).hexdigest()
    return {"HTTP_X_SIGNATURE_TIMESTAMP": str(ts), "HTTP_X_SIGNATURE": digest}


def _post(client, raw: bytes, headers: dict[str, str]):
    return client.post(URL, data=raw, content_type="application/json", **headers)


def _nothing_written() -> bool:
    return not (
        User.objects.exists() or WebhookEvent.objects.exists() or ProvisioningRun.objects.exists()
    )


def test_signed_signup_creates_user_account_and_run_and_answers_202(
    client, db, django_capture_on_commit_callbacks
):
    raw = json.dumps(BODY).encode()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = _post(client, raw, _sign(raw))

    assert response.status_code == 202
    user = User.objects.get()
    assert (user.email, user.auth0_subject, user.first_name) == (
        "newbie@example.com",
        "auth0|64f1c0ffee",
        "New",
    )
    assert not user.has_usable_password()
    assert BillingAccount.objects.filter(user=user).count() == 1
    assert ProvisioningRun.objects.filter(user=user).count() == 1
    assert len(callbacks) == 1  # the provisioning task, enqueued after commit
    event = WebhookEvent.objects.get()
    assert (event.source, event.status) == ("auth0", "processed")


def test_replayed_identical_delivery_is_refused_and_creates_nothing(client, db):
    raw = json.dumps(BODY).encode()
    headers = _sign(raw)
    assert _post(client, raw, headers).status_code == 202

    response = _post(client, raw, headers)

    assert response.status_code == 401
    assert User.objects.count() == 1 and WebhookEvent.objects.count() == 1
    assert ProvisioningRun.objects.count() == 1


def test_resent_signup_with_a_new_signature_changes_nothing(client, db):
    raw = json.dumps(BODY).encode()
    assert _post(client, raw, _sign(raw, ts=int(time.time()) - 10)).status_code == 202

    response = _post(client, raw, _sign(raw))

    assert response.status_code == 202
    assert User.objects.count() == 1 and BillingAccount.objects.count() == 1
    assert ProvisioningRun.objects.count() == 1
    assert WebhookEvent.objects.count() == 2  # both deliveries are visible


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_X_SIGNATURE_TIMESTAMP": str(int(time.time()))},
        {"HTTP_X_SIGNATURE": "00" * 32},
        "forged",
        "stale",
        "future",
        "other-body",
    ],
)
def test_unsigned_forged_or_stale_calls_get_401_and_write_nothing(client, db, headers):
    raw = json.dumps(BODY).encode()
    if headers == "forged":
        headers = _sign(raw, secret="not-the-secret")
    elif headers == "stale":
        headers = _sign(raw, ts=int(time.time()) - 301)
    elif headers == "future":
        headers = _sign(raw, ts=int(time.time()) + 301)
    elif headers == "other-body":
        headers = _sign(json.dumps({**BODY, "email": "evil@example.com"}).encode())

    response = _post(client, raw, headers)

    assert response.status_code == 401
    assert _nothing_written()


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"[1, 2]",
        json.dumps({"user_id": "auth0|x"}).encode(),
        json.dumps({"email": "x@example.com"}).encode(),
        json.dumps({"user_id": "auth0|x", "email": "not-an-email"}).encode(),
    ],
)
def test_malformed_or_incomplete_body_gets_400_and_writes_nothing(client, db, raw):
    response = _post(client, raw, _sign(raw))

    assert response.status_code == 400
    assert _nothing_written()


def test_webhook_answers_503_when_no_secret_is_set(client, db, settings):
    settings.AUTH0_WEBHOOK_SECRET = ""
    raw = json.dumps(BODY).encode()

    assert _post(client, raw, _sign(raw)).status_code == 503
    assert _nothing_written()


def test_email_linked_to_another_subject_is_409_and_recorded(client, db):
    User.objects.create_user("newbie@example.com", None, auth0_subject="google-oauth2|1")
    raw = json.dumps(BODY).encode()

    response = _post(client, raw, _sign(raw))

    assert response.status_code == 409
    assert User.objects.count() == 1
    assert WebhookEvent.objects.get().status == "failed"


def test_webhook_needs_no_session_or_csrf_token(db, settings):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    raw = json.dumps(BODY).encode()

    assert _post(csrf_client, raw, _sign(raw)).status_code == 202


def test_get_is_not_allowed(client, db):
    assert client.get(URL).status_code == 405


def test_non_ascii_signature_or_timestamp_is_401_not_a_crash(client, db):
    raw = json.dumps(BODY).encode()
    headers = _sign(raw)
    assert _post(client, raw, {**headers, "HTTP_X_SIGNATURE": "é" * 64}).status_code == 401
    arabic_digits = "".join(chr(0x660 + int(d)) for d in headers["HTTP_X_SIGNATURE_TIMESTAMP"])
    response = _post(client, raw, {**headers, "HTTP_X_SIGNATURE_TIMESTAMP": arabic_digits})
    assert response.status_code == 401
    assert _nothing_written()
