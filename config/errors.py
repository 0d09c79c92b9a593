"""Error answers: JSON under /api/ (with where the docs are), the branded templates elsewhere
(templates/403.html, 404.html, 500.html). Django uses these when DEBUG is off."""

from __future__ import annotations

from django.http import JsonResponse
from django.views import defaults

API_PREFIX = "/api/"
API_DOCS = "/api/docs/"


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
