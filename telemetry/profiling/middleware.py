"""Django middleware that captures the requests a live profiling run asks for.

Put it last in MIDDLEWARE: the capture starts in process_view, when the route is known,
and covers the view and everything after it until the response comes back. With no live
run (the usual case) a request costs one in-memory check.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

from telemetry.conventions.routes import route_template
from telemetry.profiling import agent, runs
from telemetry.profiling.continuous import lifecycle

logger = logging.getLogger(__name__)

_CAPTURE_ATTR = "_telemetry_profiling_capture"


class ProfilingMiddleware:
    """Starts a yappi capture for sampled requests of a live run and reports it."""

    # Async-capable: under an ASGI handler an async view is not pushed through
    # sync_to_async here (telemetry.pipeline.middleware).
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)
        # The web process joins runs from its start, not only after its first request, and
        # samples continuously when it is a server (gunicorn, runserver) and that is on.
        agent.start()
        lifecycle.enable_in_this_process("web")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._async:
            return self._acall(request)  # type: ignore[return-value]  # awaited by Django
        try:
            return self.get_response(request)
        finally:
            self._finish(request)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        try:
            return await self.get_response(request)  # type: ignore[misc]
        finally:
            self._finish(request)

    @staticmethod
    def _finish(request: HttpRequest) -> None:
        capture = getattr(request, _CAPTURE_ATTR, None)
        if capture is not None:
            setattr(request, _CAPTURE_ATTR, None)
            agent.finish(capture)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> None:
        if not runs.live_runs():
            return None
        try:
            match = request.resolver_match
            route = route_template(match.route) if match is not None and match.route else ""
            capture = agent.begin_for_request(route, request.path_info)
            if capture is not None:
                setattr(request, _CAPTURE_ATTR, capture)
        except Exception:
            logger.exception("profiling: could not start a request capture")
        return None
