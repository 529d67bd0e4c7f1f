"""One shape for every API error, so clients parse a single format:

    {"error": {"code": "invalid", "message": "...", "fields": {"email": ["..."]}}}

DRF's exceptions and the apps' domain errors (common.errors.DomainError, which carry
`status_code` and `code`) are translated here, in one place, instead of in each view.
"""

from __future__ import annotations

import sys
from typing import Any

from django import db
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from common.errors import DomainError


def error_body(code: str, message: str, fields: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    if isinstance(exc, DomainError):
        # A domain error from a service: it names its own status and code.
        return Response(error_body(exc.code, str(exc)), status=exc.status_code)

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real bug: let Django log it and answer 500
    if isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = error_body("invalid", "Invalid input.", fields)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        code = codes if isinstance(codes, str) else "error"
        response.data = error_body(code, str(detail))
    return response


def not_found(request, exception=None) -> JsonResponse:
    return JsonResponse(error_body("not_found", "Not found."), status=status.HTTP_404_NOT_FOUND)


def server_error(request) -> JsonResponse:
    # Django calls this while handling the exception, so it is still in sys.exc_info().
    if isinstance(sys.exc_info()[1], (db.OperationalError, db.InterfaceError)):
        # The database is down or unreachable: a temporary condition, not a bug. Connections
        # are re-opened on the next request (CONN_HEALTH_CHECKS), so no restart is needed.
        return JsonResponse(
            error_body("database_unavailable", "The database is unavailable; try again."),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )
    return JsonResponse(
        error_body("server_error", "Internal server error."),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def bad_request(request, exception=None) -> JsonResponse:
    return JsonResponse(error_body("bad_request", "Bad request."), status=400)
