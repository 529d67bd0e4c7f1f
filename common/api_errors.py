"""One shape for every API error, so clients parse a single format:

    {"error": {"code": "invalid", "message": "...", "fields": {"email": ["..."]}}}

DRF's exceptions and the apps' domain errors (common.errors.DomainError, which carry
`status_code` and `code`) are translated here, in one place, instead of in each view.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import redis.exceptions
from django import db
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from kombu.exceptions import OperationalError as BrokerError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from common.errors import DomainError

logger = logging.getLogger(__name__)

# Seconds a client is asked to wait after a 503: about what a dependency's blip lasts, and
# what a Kubernetes readiness probe takes to take an instance out of rotation.
RETRY_AFTER_SECONDS = 5

# A dependency that is down or unreachable is a temporary condition, not a bug: 503 with
# Retry-After, whatever view or middleware met it. The cache is Redis when CACHE_URL names
# it (throttle counters, sessions if configured), the broker Redis when CELERY_BROKER_URL
# does; their client timeouts (settings) bound how long a request waits before this.
_UNAVAILABLE: tuple[tuple[tuple[type[BaseException], ...], str, str], ...] = (
    ((db.OperationalError, db.InterfaceError), "database_unavailable", "The database"),
    (
        (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError),
        "cache_unavailable",
        "The cache",
    ),
    ((BrokerError,), "broker_unavailable", "The message broker"),
)


def unavailable_dependency(exc: BaseException | None) -> tuple[str, str] | None:
    """(code, message) when `exc` says a dependency is unavailable, else None."""
    for types, code, what in _UNAVAILABLE:
        if isinstance(exc, types):
            return code, f"{what} is unavailable; try again."
    return None


def unavailable_response(code: str, message: str) -> JsonResponse:
    return JsonResponse(
        error_body(code, message),
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


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
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if exc.status_code == 503 else None
        return Response(error_body(exc.code, str(exc)), status=exc.status_code, headers=headers)

    if unavailable := unavailable_dependency(exc):
        # Logged as a warning with its type (no traceback): the dependency's own alerts and
        # /ready say what is down; a stack trace per request would only bury that.
        logger.warning(
            "dependency unavailable: %s", type(exc).__name__, extra={"code": unavailable[0]}
        )
        code, message = unavailable
        return Response(
            error_body(code, message),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

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
    # A dependency that is down (the admin's database, a Redis session or cache) is a 503,
    # not a bug. Database connections are re-opened on the next request
    # (CONN_HEALTH_CHECKS), Redis clients reconnect: no restart is needed.
    if unavailable := unavailable_dependency(sys.exc_info()[1]):
        return unavailable_response(*unavailable)
    return JsonResponse(
        error_body("server_error", "Internal server error."),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def bad_request(request, exception=None) -> JsonResponse:
    return JsonResponse(error_body("bad_request", "Bad request."), status=400)
