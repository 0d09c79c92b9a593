"""Error answers: JSON under /api/ (with where the docs are), the branded templates elsewhere
(templates/403.html, 404.html, 500.html). Django uses these when DEBUG is off."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.http import JsonResponse
from django.views import defaults

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
API_DOCS = "/api/docs/"


class DomainError(Exception):
    """An error a service raises on purpose, carrying how every door answers it.

    `http_status` is the API status (config.api_errors maps it, once); `field` names the
    service argument the error is about (an API door reports it under the input serializer's
    field whose `source` is that argument, so each door keeps its own field name); the message
    is safe to show. `page_message`, when set, is what a page says instead: a flash message,
    not a form error, because the problem is not the input."""

    http_status: int = 400
    field: str | None = None
    page_message: str | None = None
    headers: dict[str, str] | None = None

    @property
    def user_message(self) -> str:
        return str(self)


def page_error(request, exc: DomainError, *, form=None) -> None:
    """The one place a template view shows a domain error: on its form when it is about the
    input, else as a flash message (logged: the problem is ours or a provider's)."""
    if form is not None and exc.page_message is None:
        form.add_error(None, exc.user_message)
        return
    logger.warning("%s on %s: %s", type(exc).__name__, request.path, exc)
    messages.error(request, exc.page_message or exc.user_message)


def _is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


def page_not_found(request, exception):
    if _is_api(request):
        body = {"detail": f"No API endpoint at {request.path}.", "docs": API_DOCS}
        return JsonResponse(body, status=404)
    return defaults.page_not_found(request, exception)


def permission_denied(request, exception):
    if _is_api(request):
        return JsonResponse({"detail": "You do not have permission.", "docs": API_DOCS}, status=403)
    return defaults.permission_denied(request, exception)


def server_error(request):
    if _is_api(request):
        return JsonResponse({"detail": "Server error; it has been logged."}, status=500)
    return defaults.server_error(request)


def api_index(request):
    """GET /api/: where the API is described."""
    return JsonResponse({"docs": API_DOCS, "schema": "/api/schema/"})
