"""The one place that decides where telemetry's middleware sits in settings.MIDDLEWARE.

Django builds its handler's middleware chain from settings.MIDDLEWARE once, when the handler
is constructed: get_wsgi_application() / get_asgi_application() in the entry module, or the
test client's handler at its first request. Every process sets its telemetry up before that
(gunicorn's post_fork, the import of wsgi.py or asgi.py under any other server, Celery's
worker_process_init, manage.py), the way DjangoInstrumentor inserts its own middleware; a
set-up at the first request would come too late. Every entry is async-capable, so under an
ASGI handler the chain stays coroutines down to the first synchronous middleware. The final
order:

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


def arrange(
    middleware: list[str], *, server_span: str, stock_server_span: str = STOCK_SERVER_SPAN
) -> list[str]:
    """MIDDLEWARE with telemetry's entries in their places, `server_span` where the
    instrumentation put its own, `stock_server_span` (first when it has not run).
    Idempotent."""
    ours = _TELEMETRY_MIDDLEWARE | {stock_server_span}
    position = middleware.index(stock_server_span) if stock_server_span in middleware else 0
    before = [path for path in middleware[:position] if path not in ours]
    after = [path for path in middleware[position:] if path not in ours]
    return [*before, FORCED_SAMPLING, server_span, UNTRACED_PROBES, *after]


def install(
    *, server_span: str, excluded_urls: str, stock_server_span: str = STOCK_SERVER_SPAN
) -> None:
    """Arrange settings.MIDDLEWARE (after DjangoInstrumentor inserted its middleware, by the
    path `stock_server_span`) and tell the probes middleware which URLs leave no trace.
    `server_span` is ours (fast paths on) or that same stock one."""
    excluded = parse_excluded_urls(excluded_urls)
    UntracedProbesMiddleware.url_excluded = excluded.url_disabled
    if server_span == SERVER_SPAN:  # with the fast paths off, none of them is imported
        from telemetry.fastpath.excluded_urls import url_check

        UntracedProbesMiddleware.url_excluded = url_check(excluded)
    settings.MIDDLEWARE = arrange(
        list(settings.MIDDLEWARE), server_span=server_span, stock_server_span=stock_server_span
    )
