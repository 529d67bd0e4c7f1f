"""Forcing a request's trace to be kept, for debugging: by a request header or by user.

The Django instrumentation starts the server span (and the sampler decides) in its own
middleware, before any view, session or authentication code runs. So this middleware goes
in front of it (inserted by `install_middleware()` after the instrumentation put its own
first) and tells the sampler through a context variable. A user is recognised by the API
token of the request (DRF's `Authorization: Token <key>`): the policy snapshot holds the keys
of the chosen users' tokens, so no query is made per request. Browser sessions are not
recognised that early; use the header there.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from telemetry.sampling import forced_reason
from telemetry.sampling_policy import current_policy

MIDDLEWARE_PATH = "telemetry.sampling_force.ForcedSamplingMiddleware"


class ForcedSamplingMiddleware:
    """Marks the requests the policy forces, before the server span starts."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        policy = current_policy()
        if not policy.forcing:  # the usual case: one attribute read
            return self.get_response(request)
        reason = policy.forced_reason(request.META)
        if reason is None:
            return self.get_response(request)
        token = forced_reason.set(reason)
        try:
            return self.get_response(request)
        finally:
            forced_reason.reset(token)


def install_middleware() -> None:
    """Put the middleware first in settings.MIDDLEWARE, ahead of the instrumentation's.

    Called by telemetry.setup after the instrumentations, before Django builds its handler
    (post_fork, worker_process_init and manage.py all come first), as the instrumentation
    inserts its own.
    """
    middleware = list(getattr(settings, "MIDDLEWARE", []))
    if MIDDLEWARE_PATH not in middleware:
        settings.MIDDLEWARE = [MIDDLEWARE_PATH, *middleware]
