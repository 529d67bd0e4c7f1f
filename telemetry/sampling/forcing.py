"""Forcing a request's trace to be kept, for debugging: by a request header or by user.

The server-span middleware starts the span (and the sampler decides) before any view,
session or authentication code runs. So this middleware goes in front of it
(telemetry.pipeline.middleware) and tells the sampler through a context variable. A user is
recognised by the API token of the request (DRF's `Authorization: Token <key>`): the policy
snapshot holds the keys of the chosen users' tokens, so no query is made per request.
Browser sessions are not recognised that early; use the header there.
"""

from __future__ import annotations

from collections.abc import Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

from telemetry.sampling.policy import current_policy
from telemetry.sampling.sampler import forced_reason


class ForcedSamplingMiddleware:
    """Marks the requests the policy forces, before the server span starts. Serves WSGI and
    ASGI handlers in their own mode (an async view's chain stays on the event loop)."""

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

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        policy = current_policy()
        reason = policy.forced_reason(request.META) if policy.forcing else None
        if reason is None:
            return await self.get_response(request)  # type: ignore[misc]
        # The context variable is set in the request's task: the sampler reads it there.
        token = forced_reason.set(reason)
        try:
            return await self.get_response(request)  # type: ignore[misc]
        finally:
            forced_reason.reset(token)
