"""Probes (/health, /ready, /metrics) leave no trace at all.

The Django instrumentation skips their server spans, but the database and Redis calls that
/ready makes would still be traced, each as a root span of its own: a trace store full of
single-span "SELECT 1" and "PING" traces, several a minute per instance.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.util.http import ExcludeList


class UntracedProbesMiddleware:
    """Runs the excluded URLs with every instrumentation suppressed."""

    excluded_urls: ExcludeList | None = None  # set by telemetry.pipeline.middleware

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        excluded = type(self).excluded_urls
        if excluded is not None and excluded.url_disabled(request.path):
            with suppress_instrumentation():
                return self.get_response(request)
        return self.get_response(request)
