"""Probes (/health, /ready, /metrics) leave no trace at all.

The Django instrumentation skips their server spans, but the database and Redis calls that
/ready makes would still be traced, each as a root span of its own: a trace store full of
single-span "SELECT 1" and "PING" traces, several a minute per instance.
"""

from __future__ import annotations

from collections.abc import Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse
from opentelemetry.instrumentation.utils import suppress_instrumentation

# Truthy for an excluded URL: ExcludeList.url_disabled, or the same check made cheaper.
UrlCheck = Callable[[str], object]


class UntracedProbesMiddleware:
    """Runs the excluded URLs with every instrumentation suppressed, under a WSGI or an ASGI
    handler (in its own mode)."""

    url_excluded: UrlCheck | None = None  # set by telemetry.pipeline.middleware
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._async:
            return self._acall(request)  # type: ignore[return-value]  # awaited by Django
        excluded = type(self).url_excluded
        if excluded is not None and excluded(request.path):
            with suppress_instrumentation():
                return self.get_response(request)
        return self.get_response(request)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        excluded = type(self).url_excluded
        if excluded is not None and excluded(request.path):
            # Suppressed in the request's task context, which sync_to_async copies into the
            # thread of a synchronous view: its database calls stay untraced too.
            with suppress_instrumentation():
                return await self.get_response(request)  # type: ignore[misc]
        return await self.get_response(request)  # type: ignore[misc]
