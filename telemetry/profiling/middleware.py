"""Django middleware that captures the requests a live profiling run asks for.

Put it last in MIDDLEWARE: the capture starts in process_view, when the route is known,
and covers the view and everything after it until the response comes back. With no live
run (the usual case) a request costs one in-memory check.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from telemetry.conventions.routes import route_template
from telemetry.profiling import agent, runs
from telemetry.profiling.continuous import lifecycle

logger = logging.getLogger(__name__)

_CAPTURE_ATTR = "_telemetry_profiling_capture"


class ProfilingMiddleware:
    """Starts a yappi capture for sampled requests of a live run and reports it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        # The web process joins runs from its start, not only after its first request, and
        # samples continuously when it is a server (gunicorn, runserver) and that is on.
        agent.start()
        lifecycle.enable_in_this_process("web")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            return self.get_response(request)
        finally:
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
