"""The one DRF exception handler (REST_FRAMEWORK["EXCEPTION_HANDLER"]): DRF's own answers for
its exceptions, and each DomainError answered with the status and message it carries.

A DomainError with a `field` is a 400 naming that field, under the name the view's
InputSerializer gives it (the serializer field whose `source` is the service argument);
any other is {"detail": message}."""

from __future__ import annotations

from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import DomainError


def api_exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return _domain_answer(exc, context.get("view"))
    return drf_exception_handler(exc, context)


def _domain_answer(exc: DomainError, view) -> Response:
    if exc.field is not None:
        body = {_input_name(view, exc.field): [exc.user_message]}
    else:
        body = {"detail": exc.user_message}
    return Response(body, status=exc.http_status, headers=exc.headers)


def _input_name(view, source: str) -> str:
    serializer_class = getattr(view, "InputSerializer", None)
    if serializer_class is None:
        return source
    for name, field in serializer_class().fields.items():
        if field.source == source:
            return name
    return source
