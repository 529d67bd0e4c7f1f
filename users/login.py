"""How django-axes sees a login attempt: which account it names, and what a locked-out
caller gets back. settings.AXES_USERNAME_CALLABLE and AXES_LOCKOUT_CALLABLE name these."""

from __future__ import annotations

import logging
from typing import Any

from axes.signals import user_locked_out
from django.conf import settings
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse

from common.api_errors import error_body
from users.models import normalize_email


def attempted_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """The account an attempt names, normalised as the account is stored: otherwise
    "Admin@x" and "admin@x" would be counted as two accounts, each with its own limit."""
    field = settings.AXES_USERNAME_FORM_FIELD
    raw = (credentials or {}).get(field)
    if raw is None:
        raw = request.POST.get(field, "") if hasattr(request, "POST") else ""
    return normalize_email(str(raw))[:255]


logger = logging.getLogger(__name__)


@receiver(user_locked_out, dispatch_uid="users-log-lockout")
def log_lockout(sender, request=None, username=None, ip_address=None, **kwargs) -> None:
    # Which address and where, not which account: the email stays in the audit rows.
    logger.warning(
        "login locked out after repeated failures",
        extra={"client_address": ip_address, "path": getattr(request, "path", "")},
    )


def lockout_seconds() -> int:
    return int(settings.AXES_COOLOFF_TIME * 3600)


def lockout_message() -> str:
    minutes = max(1, lockout_seconds() // 60)
    return (
        "Too many failed login attempts for this account or from this address; "
        f"try again in {minutes} minutes."
    )


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials=None
) -> HttpResponse:
    """429 with Retry-After: the one error shape for the API, a short page for the admin."""
    seconds = lockout_seconds()
    message = lockout_message()
    headers = {"Retry-After": str(seconds)}
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("locked_out", message), status=429, headers=headers)
    response = HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(seconds)
    return response
