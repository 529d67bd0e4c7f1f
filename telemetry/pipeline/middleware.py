"""The one place that decides where telemetry's middleware sits in settings.MIDDLEWARE.

Django builds its handler from settings.MIDDLEWARE once, at the first request; every process
sets its telemetry up before that (gunicorn's post_fork, Celery's worker_process_init,
manage.py), the way DjangoInstrumentor inserts its own middleware. The final order:

    ForcedSamplingMiddleware   marks a forced request before the server span starts
    the server-span middleware ours (telemetry.fastpath.server_span) or the instrumentation's,
                               where DjangoInstrumentor put it (first, unless
                               OTEL_PYTHON_DJANGO_MIDDLEWARE_POSITION says otherwise)
    UntracedProbesMiddleware   the probes' database and Redis calls leave no spans
    ... settings.MIDDLEWARE, ending with ProfilingMiddleware (it wraps the view)
"""

from __future__ import annotations

from django.conf import settings
from opentelemetry.util.http import parse_excluded_urls

from telemetry.probes.untraced import UntracedProbesMiddleware

FORCED_SAMPLING = "telemetry.sampling.forcing.ForcedSamplingMiddleware"
UNTRACED_PROBES = "telemetry.probes.untraced.UntracedProbesMiddleware"
SERVER_SPAN = "telemetry.fastpath.server_span.ServerSpanMiddleware"
# DjangoInstrumentor's own middleware, by the dotted path it inserts (telemetry.upstream).
STOCK_SERVER_SPAN = (
    "opentelemetry.instrumentation.django.middleware.otel_middleware._DjangoMiddleware"
)

_TELEMETRY_MIDDLEWARE = {FORCED_SAMPLING, UNTRACED_PROBES, SERVER_SPAN, STOCK_SERVER_SPAN}


def arrange(middleware: list[str], *, server_span: str) -> list[str]:
    """MIDDLEWARE with telemetry's entries in their places, `server_span` where the
    instrumentation put its own (first when it has not run). Idempotent."""
    position = middleware.index(STOCK_SERVER_SPAN) if STOCK_SERVER_SPAN in middleware else 0
    before = [path for path in middleware[:position] if path not in _TELEMETRY_MIDDLEWARE]
    after = [path for path in middleware[position:] if path not in _TELEMETRY_MIDDLEWARE]
    return [*before, FORCED_SAMPLING, server_span, UNTRACED_PROBES, *after]


def install(*, server_span: str, excluded_urls: str) -> None:
    """Arrange settings.MIDDLEWARE (after DjangoInstrumentor inserted its middleware) and
    tell the probes middleware which URLs leave no trace."""
    UntracedProbesMiddleware.excluded_urls = parse_excluded_urls(excluded_urls)
    settings.MIDDLEWARE = arrange(list(settings.MIDDLEWARE), server_span=server_span)
