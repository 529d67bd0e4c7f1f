"""The contrib instrumentations this service uses, switched on once per process, and the
hooks that fit them to our URLs: server spans named by route template, probes excluded."""

from __future__ import annotations

import functools
import logging
import os
import re

from django.http import HttpRequest, HttpResponse
from opentelemetry.instrumentation.django.middleware.otel_middleware import (
    _DjangoMiddleware,
)
from opentelemetry.trace import Span

from telemetry.config import TelemetryConfig
from telemetry.tallied_metrics import TalliedMeterProvider

logger = logging.getLogger(__name__)


# The probes answer many times a minute and say nothing about user traffic.
DEFAULT_EXCLUDED_URLS = r"/health$,/ready$,/metrics$"

_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")  # <int:user_id> -> user_id
_REGEX_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")  # (?P<user_id>[0-9]+) -> user_id


@functools.lru_cache(maxsize=512)
def route_template(route: str) -> str:
    """Turn a Django route into the OpenTelemetry http.route form.

    'api/users/<int:user_id>' becomes '/api/users/{user_id}'; a re_path pattern
    '^x/(?P<pk>[0-9]+)/$' becomes '/x/{pk}/'. Cached: called for every request, and the
    routes are the URL patterns, a small fixed set (not the paths requested).
    """
    if route.startswith("^") or route.endswith("$") or "(?P<" in route:
        route = _REGEX_GROUP.sub(r"<\1>", route.lstrip("^").rstrip("$"))
    return "/" + _CONVERTER.sub(r"{\1}", route.lstrip("/"))


_DURATION_ATTRS = "_telemetry_duration_attrs"
# Where the instrumentation's middleware keeps them in request.META.
DURATION_ATTRS_META_KEY = _DjangoMiddleware._environ_duration_attr_key


def keep_duration_attributes(span: Span, request: HttpRequest) -> None:
    """Django instrumentation request hook: keep a reference to the attributes the
    instrumentation will record http.server.request.duration with.

    The instrumentation takes them out of request.META before the response hook runs, so
    the response hook could not otherwise put the route template into the metric.
    """
    setattr(request, _DURATION_ATTRS, request.META.get(DURATION_ATTRS_META_KEY))


def redacted_query(query: str) -> str:
    """Keep a query string's parameter names, drop their values: values can carry personal
    data (?email=...), and the span needs only the shape of the request."""
    names = (part.partition("=") for part in query.split("&") if part)
    return "&".join(f"{name}=REDACTED" if equals else name for name, equals, _ in names)


def on_request(span: Span, request: HttpRequest) -> None:
    """Django instrumentation request hook: keep the duration metric's attributes, and
    record the query string without its values."""
    keep_duration_attributes(span, request)
    query = request.META.get("QUERY_STRING")
    if query and span.is_recording():
        span.set_attribute("url.query", redacted_query(query))


def name_server_span_by_route(span: Span, request: HttpRequest, response: HttpResponse) -> None:
    """Django instrumentation response hook: use the route template as span name and
    http.route, on the span and on the duration metric's attributes.

    The instrumentation names spans by Django's raw route ('GET api/users/<int:user_id>');
    dashboards and other services expect 'GET /api/users/{user_id}'.
    """
    match = getattr(request, "resolver_match", None)
    route = getattr(match, "route", None)
    if match is None or route is None:
        return  # unresolved (404): the span keeps the bare method name, no cardinality blow-up
    template = route_template(route)
    duration_attrs = getattr(request, _DURATION_ATTRS, None)
    if isinstance(duration_attrs, dict):
        duration_attrs["http.route"] = template
    if span.is_recording():
        method = getattr(span, "name", request.method or "HTTP").partition(" ")[0]
        span.update_name(f"{method} {template}")
        span.set_attribute("http.route", template)


def instrument_libraries(config: TelemetryConfig, *, bridge_logs: bool) -> None:
    """Switch on every instrumentation once; each instrumentor ignores a second call.

    bridge_logs: send Python logging records to this process's LoggerProvider.
    """
    # The stable HTTP semantic conventions: http.server.request.duration in seconds with
    # http.request.method, http.route and http.response.status_code. Read once, on the
    # first instrumentation, so it must be set before any of them.
    os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")

    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.logging import LoggingInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor

    excluded_urls = os.environ.get("OTEL_PYTHON_DJANGO_EXCLUDED_URLS", DEFAULT_EXCLUDED_URLS)
    _untrace_probes(excluded_urls)
    DjangoInstrumentor().instrument(
        excluded_urls=excluded_urls,
        request_hook=on_request,
        response_hook=name_server_span_by_route,
        # http.server.active_requests goes up and down once per request, and
        # http.server.request.duration records once per request: both tallied in memory.
        meter_provider=TalliedMeterProvider(_measured_per_request),
    )
    _use_server_span_middleware()
    # Statements are recorded with their placeholders, never with parameter values.
    PsycopgInstrumentor().instrument(enable_commenter=False)
    SQLite3Instrumentor().instrument()
    HTTPXClientInstrumentor().instrument()
    RedisInstrumentor().instrument()
    CeleryInstrumentor().instrument()
    # The handler that bridges Python logging to the OTLP log pipeline. Trace context is
    # not injected into the records: the OTLP record carries it natively, and the JSON
    # lines on stdout take it from the current span (telemetry.log_format); injected, it
    # would also travel as four redundant otel* attributes on every OTLP log record.
    LoggingInstrumentor().instrument(
        inject_trace_context=False,
        enable_log_auto_instrumentation=bridge_logs,
        log_handler_level=config.log_level,
    )
    otlp_handler = getattr(LoggingInstrumentor, "_logging_handler", None)
    if otlp_handler is not None:
        otlp_handler.addFilter(_not_from_the_sdk)


def _measured_per_request(name: str) -> bool:
    return name in {"http.server.active_requests", "http.server.request.duration"}


def _use_server_span_middleware() -> None:
    # Where the instrumentation put its middleware, ours takes its place (same position,
    # same class attributes: tracer, meter, hooks, excluded URLs).
    from django.conf import settings
    from opentelemetry.instrumentation.django.middleware.otel_middleware import _DjangoMiddleware

    theirs = f"{_DjangoMiddleware.__module__}.{_DjangoMiddleware.__qualname__}"
    ours = "telemetry.server_span.ServerSpanMiddleware"
    settings.MIDDLEWARE = [ours if path == theirs else path for path in settings.MIDDLEWARE]


def _untrace_probes(excluded_urls: str) -> None:
    # Inserted the way DjangoInstrumentor inserts its own middleware: into settings, before
    # Django builds its handler (post_fork, worker_process_init and manage.py come first).
    from django.conf import settings
    from opentelemetry.util.http import parse_excluded_urls

    from telemetry.probes import UntracedProbesMiddleware

    UntracedProbesMiddleware.excluded_urls = parse_excluded_urls(excluded_urls)
    path = "telemetry.probes.UntracedProbesMiddleware"
    middleware = list(getattr(settings, "MIDDLEWARE", []))
    if path not in middleware:
        settings.MIDDLEWARE = [path, *middleware]


def _not_from_the_sdk(record: logging.LogRecord) -> bool:
    # The exporters log their own failures ("collector unreachable"); shipping those records
    # through the same failing pipeline would only queue more of them.
    return not record.name.startswith("opentelemetry")
