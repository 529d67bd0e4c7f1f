"""/metrics: django-prometheus's exposition (all gunicorn workers added up), optionally behind
a bearer token so that only the scraper reads it (METRICS_BEARER_TOKEN)."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django_prometheus.exports import ExportToDjangoView


def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_BEARER_TOKEN
    if token:
        supplied = request.headers.get("Authorization", "")
        if not hmac.compare_digest(supplied.encode(), f"Bearer {token}".encode()):
            response = JsonResponse(
                {"error": {"code": "not_authenticated", "message": "Bearer token required."}},
                status=401,
            )
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    return ExportToDjangoView(request)
