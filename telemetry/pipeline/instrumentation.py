"""The contrib instrumentations this service uses, switched on once per process, and the
hooks that fit them to our URLs: server spans named by route template, probes excluded.

With the fast paths on (telemetry.pipeline.fast_paths), our server-span middleware takes
the place of the Django instrumentation's and the per-request instruments are tallied in
memory; off, the instrumentation's own middleware and the SDK's instruments serve, with the
same hooks.
"""

from __future__ import annotations

import logging
import os

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from opentelemetry import metrics
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.trace import Span

from common.log_filters import RequestQueryFilter
from telemetry.conventions.redaction import redacted_query
from telemetry.conventions.routes import route_template
from telemetry.pipeline import middleware, semconv
from telemetry.pipeline.config import TelemetryConfig
from telemetry.pipeline.fast_paths import fast_paths_enabled

logger = logging.getLogger(__name__)


# The probes answer many times a minute and say nothing about user traffic.
# The console's own pages (reading the local store) and static files would otherwise fill the
# store with traces of looking at it, newest first.
DEFAULT_EXCLUDED_URLS = r"/health$,/ready$,/metrics$,/admin/telemetry/console/,/static/"

_DURATION_ATTRS = "_telemetry_duration_attrs"


def _duration_attrs_meta_key() -> str | None:
    """Where the instrumentation's middleware keeps the duration metric's attributes in
    request.META: a private class attribute (telemetry.upstream lists it); None if it moved,
    and then the metric keeps the route the instrumentation gives it."""
    try:
        from opentelemetry.instrumentation.django.middleware.otel_middleware import (
            _DjangoMiddleware,
        )
    except ImportError:
        return None
    key = getattr(_DjangoMiddleware, "_environ_duration_attr_key", None)
    return key if isinstance(key, str) else None


DURATION_ATTRS_META_KEY = _duration_attrs_meta_key()


def keep_duration_attributes(span: Span, request: HttpRequest) -> None:
    """Django instrumentation request hook: keep a reference to the attributes the
    instrumentation will record http.server.request.duration with.

    The instrumentation takes them out of request.META before the response hook runs, so
    the response hook could not otherwise put the route template into the metric.
    """
    if DURATION_ATTRS_META_KEY is not None:
        setattr(request, _DURATION_ATTRS, request.META.get(DURATION_ATTRS_META_KEY))


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
    # The operator's semantic-convention opt-ins, with the stable HTTP ones always in
    # (telemetry.pipeline.semconv). Read once, on the first instrumentation, so it must be
    # set before any of them.
    opt_in = semconv.apply_opt_in()

    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.logging import LoggingInstrumentor
    from opentelemetry.instrumentation.propagators import (
        TraceResponsePropagator,
        set_global_response_propagator,
    )
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor

    excluded_urls = os.environ.get("OTEL_PYTHON_DJANGO_EXCLUDED_URLS", DEFAULT_EXCLUDED_URLS)
    fast = fast_paths_enabled()
    before = list(settings.MIDDLEWARE)
    DjangoInstrumentor().instrument(
        excluded_urls=excluded_urls,
        request_hook=on_request,
        response_hook=name_server_span_by_route,
        meter_provider=_per_request_meter_provider() if fast else None,
    )
    # The middleware the instrumentation inserted, by the path it used (what is new).
    stock = next((p for p in settings.MIDDLEWARE if p not in before), middleware.STOCK_SERVER_SPAN)
    # Ours takes the place of the instrumentation's (same class attributes: tracer, meter,
    # hooks, excluded URLs), with forced sampling before it and the probes after it.
    middleware.install(
        server_span=middleware.SERVER_SPAN if fast else stock,
        excluded_urls=excluded_urls,
        stock_server_span=stock,
    )
    # The W3C traceresponse header (trace id, span id, sampled flag) on traced responses,
    # so a client or a support engineer can find the request's trace. Both server-span
    # middlewares inject with the instrumentation's global response propagator.
    set_global_response_propagator(TraceResponsePropagator() if config.trace_response else None)
    # Statements are recorded with their placeholders, never with parameter values.
    PsycopgInstrumentor().instrument(enable_commenter=False)
    SQLite3Instrumentor().instrument()
    if fast:  # no span per statement in a trace the sampler dropped
        from opentelemetry import trace

        from telemetry.fastpath.db_spans import skip_spans_in_dropped_traces

        skip_spans_in_dropped_traces(trace.get_tracer_provider(), opt_in)
    HTTPXClientInstrumentor().instrument()
    RedisInstrumentor().instrument()
    # Its only metric, flower.task.runtime.seconds, would time every job a second time:
    # processing.job.duration and the consumer spans already do (one family per signal).
    CeleryInstrumentor().instrument(meter_provider=NoOpMeterProvider())
    # The handler that bridges Python logging to the OTLP log pipeline. Trace context is
    # not injected into the records: the OTLP record carries it natively, and the JSON
    # lines on stdout take it from the current span (telemetry.pipeline.log_format); injected, it
    # would also travel as four redundant otel* attributes on every OTLP log record.
    LoggingInstrumentor().instrument(
        inject_trace_context=False,
        enable_log_auto_instrumentation=bridge_logs,
        log_handler_level=config.log_level,
    )
    otlp_handler = _otlp_logging_handler(LoggingInstrumentor)
    if otlp_handler is not None:
        otlp_handler.addFilter(_not_from_the_sdk)
        # Django's request records carry the request (its query string) in their extras.
        otlp_handler.addFilter(RequestQueryFilter())


def _per_request_meter_provider() -> metrics.MeterProvider:
    """http.server.active_requests goes up and down once per request, and
    http.server.request.duration records once per request: both tallied in memory."""
    from telemetry.fastpath.tallied_metrics import TalliedMeterProvider

    return TalliedMeterProvider(_measured_per_request)


def _measured_per_request(name: str) -> bool:
    return name in {"http.server.active_requests", "http.server.request.duration"}


def _otlp_logging_handler(instrumentor: type) -> logging.Handler | None:
    """The handler LoggingInstrumentor added to the root logger: where it keeps it (a private
    class attribute, listed in telemetry.upstream), else the root logger's handler from an
    OpenTelemetry module."""
    handler = getattr(instrumentor, "_logging_handler", None)
    if isinstance(handler, logging.Handler):
        return handler
    for candidate in logging.getLogger().handlers:
        if type(candidate).__module__.startswith("opentelemetry."):
            return candidate
    return None


def _not_from_the_sdk(record: logging.LogRecord) -> bool:
    # The exporters log their own failures ("collector unreachable"); shipping those records
    # through the same failing pipeline would only queue more of them.
    return not record.name.startswith("opentelemetry")
