"""Liveness and readiness probes.

/health answers as long as the process serves requests. /ready checks what a request needs
(the database and the Celery broker) and names whatever is down, with 503, so a load
balancer or orchestrator stops sending traffic to an instance that cannot do its work.
"""

from __future__ import annotations

import logging

from celery import current_app
from django.conf import settings
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


def check_database() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")


def check_broker() -> None:
    with current_app.connection_for_write() as conn:
        # Seconds as a float: kombu compares it with elapsed time; its stubs say int.
        timeout = settings.CELERY_BROKER_CONNECTION_TIMEOUT
        conn.ensure_connection(max_retries=1, timeout=timeout)  # type: ignore[arg-type]


READINESS_CHECKS = {"database": check_database, "broker": check_broker}


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    # What failed (its exception names hosts and ports) is for staff and the log; anyone
    # else (a load balancer, a probe, the public) learns which dependency is down, no more.
    user = getattr(request, "user", None)
    detailed = bool(user is not None and user.is_active and user.is_staff)
    checks: dict[str, str] = {}
    for name, check in READINESS_CHECKS.items():
        try:
            check()
            checks[name] = "ok"
        except Exception as exc:  # any failure means "not ready", never a 500
            logger.warning("readiness check failed", extra={"check": name, "error": repr(exc)})
            checks[name] = f"down: {type(exc).__name__}: {exc}"[:300] if detailed else "down"
    is_ready = all(state == "ok" for state in checks.values())
    return JsonResponse(
        {"status": "ready" if is_ready else "not ready", "checks": checks},
        status=200 if is_ready else 503,
    )
