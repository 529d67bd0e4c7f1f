"""The contrib instrumentations this service uses, switched on once per process, and the
hooks that fit them to our URLs: server spans named by route template, probes excluded."""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable
from time import time
from timeit import default_timer

from django.http import HttpRequest, HttpResponse
from opentelemetry import metrics
from opentelemetry.context import detach
from opentelemetry.instrumentation._semconv import (
    _set_http_flavor_version,
    _set_http_method,
    _set_http_scheme,
    _StabilityMode,
)
from opentelemetry.instrumentation.django.middleware.otel_middleware import (
    _DjangoMiddleware,
    _is_asgi_request,
    _parse_active_request_count_attrs,
    _parse_duration_attrs,
)
from opentelemetry.instrumentation.propagators import get_global_response_propagator
from opentelemetry.instrumentation.utils import (
    _start_internal_or_server_span,
    extract_attributes_from_object,
)
from opentelemetry.instrumentation.wsgi import (
    add_response_attributes,
    collect_custom_request_headers_attributes,
    collect_custom_response_headers_attributes,
    collect_request_attributes,
    wsgi_getter,
)
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.semconv.attributes.http_attributes import HTTP_ROUTE
from opentelemetry.trace import Span, SpanKind, use_span
from opentelemetry.util.http import (
    OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST,
    OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE,
    sanitize_method,
)

from telemetry.config import TelemetryConfig

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


class TalliedCounter:
    """A counter or up-down counter that adds up in memory and is read at collection.

    A synchronous SDK measurement costs about 10 us (attributes copied, validated, hashed,
    sorted; a lock; an exemplar offer). For sums whose only use is their running total
    (in-flight requests, items a batch processor handled or dropped), this keeps the total
    per attribute set in a dict instead, and an observable instrument of the same name,
    kind, unit and description reports it: the exported series are the same cumulative sums.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: dict[frozenset, list] = {}

    def add(self, amount: int, attributes: dict | None = None, context: object = None) -> None:
        key = frozenset(attributes.items()) if attributes else frozenset()
        with self._lock:
            total = self._totals.get(key)
            if total is None:
                self._totals[key] = [amount, dict(attributes or {})]
            else:
                total[0] += amount

    def observe(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            return [Observation(total, attributes) for total, attributes in self._totals.values()]


# One tally per (scope, instrument) in this process, shared by every user of that name (a
# MeterProvider keeps the first instrument registered under a name and ignores the
# callbacks of later ones).
_tallies: dict[tuple[str, str], TalliedCounter] = {}
_tallies_lock = threading.Lock()


class _TalliedMeter:
    """A Meter whose chosen counters and up-down counters are TalliedCounter; every other
    instrument is the real one."""

    def __init__(self, meter: metrics.Meter, scope: str, tallied: Callable[[str], bool]):
        self._meter = meter
        self._scope = scope
        self._tallied = tallied

    def _tally(self, name: str, register: Callable[..., object], unit: str, description: str):
        with _tallies_lock:
            counter = _tallies.get((self._scope, name))
            if counter is None:
                counter = _tallies[(self._scope, name)] = TalliedCounter()
                register(name, callbacks=[counter.observe], unit=unit, description=description)
        return counter

    def create_counter(self, name: str, unit: str = "", description: str = ""):
        if not self._tallied(name):
            return self._meter.create_counter(name, unit=unit, description=description)
        return self._tally(name, self._meter.create_observable_counter, unit, description)

    def create_up_down_counter(self, name: str, unit: str = "", description: str = ""):
        if not self._tallied(name):
            return self._meter.create_up_down_counter(name, unit=unit, description=description)
        return self._tally(name, self._meter.create_observable_up_down_counter, unit, description)

    def __getattr__(self, name: str):
        return getattr(self._meter, name)


class TalliedMeterProvider(metrics.MeterProvider):
    """Meters whose counters named by `tallied` are TalliedCounter, over the global
    MeterProvider (resolved when the meter is asked for, so it may be set afterwards)."""

    def __init__(self, tallied: Callable[[str], bool]) -> None:
        self._tallied = tallied

    def get_meter(self, name, version=None, schema_url=None, attributes=None):
        real = metrics.get_meter_provider().get_meter(name, version, schema_url, attributes)
        return _TalliedMeter(real, name, self._tallied)  # type: ignore[return-value]


def _in_flight_requests(name: str) -> bool:
    return name == "http.server.active_requests"


_UNTRACED = "_telemetry_untraced"  # request attribute: True for an excluded URL


def _names_spans_by_route() -> bool:
    """Whether the sampler needs the server span's route to decide (a sampling rule by
    route), so the span must be named by it when it starts."""
    from telemetry.sampling_policy import HTTP_RULE, current_policy

    policy = current_policy()
    return any(rule.kind == HTTP_RULE for rule in policy.rules)


def _url_for_exclusion(request: HttpRequest) -> str:
    """The request's URL without its query, for OTEL_PYTHON_DJANGO_EXCLUDED_URLS: what
    request.build_absolute_uri("?") gives the instrumentation, without validating the host
    against ALLOWED_HOSTS (Django does that anyway) or escaping the path (about 15 us)."""
    meta = request.META
    host = meta.get("HTTP_HOST") or f"{meta.get('SERVER_NAME', '')}:{meta.get('SERVER_PORT', '')}"
    return f"{request.scheme}://{host}{request.path}"


class ServerSpanMiddleware(_DjangoMiddleware):
    """The Django instrumentation's middleware, doing per request only what is needed.

    Same spans, attributes and metrics as the instrumentation's own, but:
    - the excluded-URL check runs once per request instead of in each of the four hooks,
      on a URL put together from the request (not built and validated by Django);
    - a request whose span is not recording gets only the attributes its metrics need
      (method, scheme, protocol version), not all of them (user agent, addresses ...);
    - the path is resolved at the start only when a sampling rule by route needs the name
      to decide; otherwise the span starts named by its method, Django resolves the path
      once, and the response hook names a recording span by its route template;
    - the capture-headers variables are read when the middleware is built, not per request.
    ASGI requests, and the old or duplicated HTTP conventions, go the instrumentation's way.
    """

    def __init__(self, get_response) -> None:
        super().__init__(get_response)
        self._lean = self._sem_conv_opt_in_mode is _StabilityMode.HTTP
        self._capture_request_headers = bool(
            os.environ.get(OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST)
        )
        self._capture_response_headers = bool(
            os.environ.get(OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE)
        )

    def _span_name(self, request: HttpRequest) -> str:
        if _names_spans_by_route():
            return self._get_span_name(request)
        method = sanitize_method(request.method.strip())
        return "HTTP" if method == "_OTHER" else method

    def process_request(self, request):
        if not self._lean or _is_asgi_request(request):
            return super().process_request(request)
        untraced = self._excluded_urls.url_disabled(_url_for_exclusion(request))
        setattr(request, _UNTRACED, untraced)
        if untraced:
            return
        request._otel_start_time = time()
        meta = request.META
        mode = self._sem_conv_opt_in_mode
        # What the metrics need (the same keys collect_request_attributes would give them).
        attributes: dict = {}
        method = meta.get("REQUEST_METHOD", "")
        _set_http_method(attributes, method, sanitize_method(method), mode)
        _set_http_scheme(attributes, meta.get("wsgi.url_scheme"), mode)
        flavor = meta.get("SERVER_PROTOCOL", "")
        if flavor.upper().startswith("HTTP/"):
            flavor = flavor[len("HTTP/") :]
        if flavor:
            _set_http_flavor_version(attributes, flavor, mode)
        span, token = _start_internal_or_server_span(
            tracer=self._tracer,
            span_name=self._span_name(request),
            start_time=meta.get("opentelemetry-instrumentor-django.starttime_key"),
            context_carrier=meta,
            context_getter=wsgi_getter,
            attributes=attributes,
        )
        if span.is_recording():
            attributes = collect_request_attributes(meta, mode)
            attributes = extract_attributes_from_object(
                request, self._traced_request_attrs, attributes
            )
            if self._capture_request_headers and span.kind == SpanKind.SERVER:
                custom_attributes = collect_custom_request_headers_attributes(meta)
                if custom_attributes:
                    span.set_attributes(custom_attributes)
            span.set_attributes(attributes)
        active_requests_count_attrs = _parse_active_request_count_attrs(attributes, mode)
        meta[self._environ_active_request_attr_key] = active_requests_count_attrs
        # All of them: filtered when the duration is recorded.
        meta[self._environ_duration_attr_key] = attributes
        self._active_request_counter.add(1, active_requests_count_attrs)

        activation = use_span(span, end_on_exit=True)
        activation.__enter__()
        meta[self._environ_timer_key] = default_timer()
        meta[self._environ_activation_key] = activation
        meta[self._environ_span_key] = span
        if token:
            meta[self._environ_token] = token
        if _DjangoMiddleware._otel_request_hook:
            try:
                _DjangoMiddleware._otel_request_hook(span, request)
            except Exception:
                logger.exception("Exception raised by request_hook")

    def process_view(self, request, view_func, *args, **kwargs):
        untraced = getattr(request, _UNTRACED, None)
        if untraced is None:
            return super().process_view(request, view_func, *args, **kwargs)
        if untraced or self._environ_span_key not in request.META:
            return
        route = getattr(getattr(request, "resolver_match", None), "route", None)
        if route:
            span = request.META[self._environ_span_key]
            if span.is_recording():
                span.set_attribute(HTTP_ROUTE, route)
            request.META[self._environ_duration_attr_key][HTTP_ROUTE] = route

    def process_exception(self, request, exception):
        untraced = getattr(request, _UNTRACED, None)
        if untraced is None:
            return super().process_exception(request, exception)
        if not untraced and self._environ_activation_key in request.META:
            request.META[self._environ_exception_key] = exception

    def process_response(self, request, response):
        untraced = getattr(request, _UNTRACED, None)
        if untraced is None:
            return super().process_response(request, response)
        if untraced:
            return response
        meta = request.META
        activation = meta.pop(self._environ_activation_key, None)
        span = meta.pop(self._environ_span_key, None)
        active_requests_count_attrs = meta.pop(self._environ_active_request_attr_key, None)
        duration_attrs = meta.pop(self._environ_duration_attr_key, None)
        request_start_time = meta.pop(self._environ_timer_key, None)
        exception = None
        if activation and span:
            add_response_attributes(
                span,
                f"{response.status_code} {response.reason_phrase}",
                response.items(),
                duration_attrs=duration_attrs,
                sem_conv_opt_in_mode=self._sem_conv_opt_in_mode,
            )
            if (
                self._capture_response_headers
                and span.is_recording()
                and span.kind == SpanKind.SERVER
            ):
                custom_attributes = collect_custom_response_headers_attributes(response.items())
                if custom_attributes:
                    span.set_attributes(custom_attributes)
            propagator = get_global_response_propagator()
            if propagator:
                propagator.inject(response)
            exception = meta.pop(self._environ_exception_key, None)
            if _DjangoMiddleware._otel_response_hook:
                try:
                    _DjangoMiddleware._otel_response_hook(span, request, response)
                except Exception:
                    logger.exception("Exception raised by response_hook")
        if request_start_time is not None:
            duration_s = default_timer() - request_start_time
            self._duration_histogram_new.record(
                max(duration_s, 0),
                _parse_duration_attrs(duration_attrs, _StabilityMode.HTTP),
            )
        self._active_request_counter.add(-1, active_requests_count_attrs)
        if activation and span:
            if exception:
                activation.__exit__(
                    type(exception), exception, getattr(exception, "__traceback__", None)
                )
            else:
                activation.__exit__(None, None, None)
        token = meta.pop(self._environ_token, None)
        if token is not None:
            detach(token)
        return response


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
        # http.server.active_requests goes up and down once per request: tallied in memory.
        meter_provider=TalliedMeterProvider(_in_flight_requests),
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


def _use_server_span_middleware() -> None:
    # Where the instrumentation put its middleware, ours takes its place (same position,
    # same class attributes: tracer, meter, hooks, excluded URLs).
    from django.conf import settings
    from opentelemetry.instrumentation.django.middleware.otel_middleware import _DjangoMiddleware

    theirs = f"{_DjangoMiddleware.__module__}.{_DjangoMiddleware.__qualname__}"
    ours = f"{__name__}.ServerSpanMiddleware"
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
