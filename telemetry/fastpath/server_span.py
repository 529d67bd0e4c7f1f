"""ServerSpanMiddleware: the Django instrumentation's middleware, doing per request only what
the span and the request metrics need (docs/overhead.md). It subclasses a private class of
opentelemetry-instrumentation-django: every private symbol it uses, and what to re-check at
an upgrade, is in telemetry.upstream.private_api; a test holds it against that class side by
side (tests/telemetry/fastpath/test_server_span_side_by_side.py)."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from timeit import default_timer

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse
from opentelemetry.context import Context, attach, detach
from opentelemetry.instrumentation._semconv import (
    _server_active_requests_count_attrs_new,
    _server_duration_attrs_new,
    _set_http_flavor_version,
    _set_http_method,
    _set_http_net_peer_name_server,
    _set_http_peer_ip_server,
    _set_http_peer_port_server,
    _set_http_scheme,
    _set_http_target,
    _StabilityMode,
)
from opentelemetry.instrumentation.django.middleware.otel_middleware import (
    _DjangoMiddleware,
    _is_asgi_request,
)
from opentelemetry.instrumentation.propagators import (
    _HTTP_HEADER_ACCESS_CONTROL_EXPOSE_HEADERS,
    TraceResponsePropagator,
    get_global_response_propagator,
)
from opentelemetry.instrumentation.utils import (
    _start_internal_or_server_span,
    extract_attributes_from_object,
    http_status_to_status_code,
)
from opentelemetry.instrumentation.wsgi import (
    collect_custom_request_headers_attributes,
    collect_custom_response_headers_attributes,
    collect_request_attributes,
    wsgi_getter,
)
from opentelemetry.propagate import extract, get_global_textmap
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.http_attributes import HTTP_RESPONSE_STATUS_CODE
from opentelemetry.trace import (
    INVALID_SPAN,
    INVALID_SPAN_CONTEXT,
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    get_current_span,
    set_span_in_context,
)
from opentelemetry.util.http import (
    OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST,
    OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE,
    sanitize_method,
)

from telemetry.fastpath.excluded_urls import url_check
from telemetry.fastpath.plain_attributes import set_plain_attributes
from telemetry.fastpath.span_failures import mark_failed
from telemetry.fastpath.tallied_metrics import TalliedCounter
from telemetry.fastpath.trace_ids import DecidedTraceIds
from telemetry.sampling.policy import current_policy

logger = logging.getLogger(__name__)

# Request attribute: True when this middleware's own path serves the request, False for an
# excluded URL, absent when the instrumentation's path does (ASGI, other conventions).
_SERVED = "_telemetry_server_span"
# Where a WSGI server may put the request's start time (as the instrumentation reads it).
_START_TIME_KEY = "opentelemetry-instrumentor-django.starttime_key"
_DURATION_KEYS = frozenset(_server_duration_attrs_new)
_IN_FLIGHT_KEYS = frozenset(_server_active_requests_count_attrs_new)
# The trace flags the SDK gives a span its sampler drops (with a random trace id, or not).
_UNSAMPLED = TraceFlags(TraceFlags.DEFAULT)
_UNSAMPLED_RANDOM_ID = TraceFlags(TraceFlags.DEFAULT | TraceFlags.RANDOM_TRACE_ID)
# The headers TraceResponsePropagator.inject writes (telemetry.upstream lists both).
_TRACERESPONSE = "traceresponse"
_EXPOSE_HEADERS = _HTTP_HEADER_ACCESS_CONTROL_EXPOSE_HEADERS


# The global propagator last looked at, and the WSGI environ keys of the headers without
# which it extracts nothing (None: it may read any header).
_inbound: tuple[object, tuple[str, ...] | None] = (None, None)


def _carries_no_context(meta: dict) -> bool:
    """Whether extract(meta, getter=wsgi_getter) would return the current context as it is:
    the global propagator says which headers it needs (telemetry.pipeline.inbound_context's
    filter, over the W3C propagators) and the environ has none of them, by the keys
    wsgi_getter reads. Most requests carry no trace context."""
    global _inbound
    propagator = get_global_textmap()
    known, keys = _inbound
    if known is not propagator:
        headers = getattr(propagator, "context_headers", None)
        keys = None if headers is None else tuple(_environ_key(name) for name in headers)
        _inbound = (propagator, keys)
    if keys is None:
        return False
    for key in keys:
        if meta.get(key) is not None:  # wsgi_getter finds even an empty value
            return False
    return True


def _environ_key(header: str) -> str:
    """The WSGI environ key wsgi_getter reads a header from."""
    return "HTTP_" + header.upper().replace("-", "_")


def _url_for_exclusion(request: HttpRequest) -> str:
    """The request's URL without its query, for OTEL_PYTHON_DJANGO_EXCLUDED_URLS: what
    request.build_absolute_uri("?") gives the instrumentation, without validating the host
    against ALLOWED_HOSTS (Django does that anyway) or escaping the path (about 15 us)."""
    meta = request.META
    host = meta.get("HTTP_HOST") or f"{meta.get('SERVER_NAME', '')}:{meta.get('SERVER_PORT', '')}"
    return f"{request.scheme}://{host}{request.path}"


@functools.lru_cache(maxsize=64)
def _request_basics(
    method: str, scheme: str, protocol: str, in_flight_counter: object
) -> tuple[str, dict, dict, Callable[[int], None]]:
    """What every request with this method, scheme and protocol starts with: the span name
    (before its route is known), the span's start attributes, the duration metric's
    attributes so far, and how to count it in flight (`in_flight_counter`'s add, for its
    attributes: a tally's running total for them, hashed once). Cached: there are few
    combinations (unknown methods become _OTHER); callers copy the dicts they change."""
    mode = _StabilityMode.HTTP
    attributes: dict = {}
    _set_http_method(attributes, method, sanitize_method(method), mode)
    _set_http_scheme(attributes, scheme, mode)
    if protocol.upper().startswith("HTTP/"):
        protocol = protocol[len("HTTP/") :]
    if protocol:
        _set_http_flavor_version(attributes, protocol, mode)
    sanitized = sanitize_method(method.strip())
    name = "HTTP" if sanitized == "_OTHER" else sanitized
    duration = {k: v for k, v in attributes.items() if k in _DURATION_KEYS}
    in_flight = {k: v for k, v in attributes.items() if k in _IN_FLIGHT_KEYS}
    if isinstance(in_flight_counter, TalliedCounter):
        count = in_flight_counter.bound(in_flight).add
    else:  # the SDK's up-down counter (tallies off)
        count = functools.partial(in_flight_counter.add, attributes=in_flight)
    return name, attributes, duration, count


# What collect_request_attributes reads that stays the same from request to request of one
# client (method, scheme, host and port, user agent, protocol), and the helpers it writes the
# rest with, per request (target, peer address and port, peer name).
_CLIENT_KEYS = (
    "REQUEST_METHOD",
    "SERVER_NAME",
    "wsgi.url_scheme",
    "HTTP_HOST",
    "SERVER_PORT",
    "HTTP_USER_AGENT",
    "SERVER_PROTOCOL",
)


@functools.lru_cache(maxsize=256)
def _client_attributes(values: tuple) -> dict:
    """collect_request_attributes of an environ holding only the _CLIENT_KEYS `values`:
    what it gives every request of this kind (the user agent's parsing and the method's
    sanitising included). Bounded: a host or user agent chosen by the client only turns the
    cache over. Callers copy it."""
    pairs = zip(_CLIENT_KEYS, values, strict=True)
    environ = {key: value for key, value in pairs if value is not None}
    return collect_request_attributes(environ, _StabilityMode.HTTP)


def _request_attributes(meta: dict) -> dict:
    """collect_request_attributes(meta) in the stable HTTP conventions (the only ones this
    middleware serves itself): the client's part from the cache, the rest written by the
    same helpers, from the same keys."""
    mode = _StabilityMode.HTTP
    attributes = dict(_client_attributes(tuple(meta.get(key) for key in _CLIENT_KEYS)))
    target = meta.get("RAW_URI")
    if target is None:
        target = meta.get("REQUEST_URI")
    if target:
        _set_http_target(attributes, target, meta.get("PATH_INFO"), meta.get("QUERY_STRING"), mode)
    remote_addr = meta.get("REMOTE_ADDR")
    if remote_addr:
        _set_http_peer_ip_server(attributes, remote_addr, mode)
    peer_port = meta.get("REMOTE_PORT")
    if peer_port:
        _set_http_peer_port_server(attributes, peer_port, mode)
    remote_host = meta.get("REMOTE_HOST")
    if remote_host and remote_host != remote_addr:
        _set_http_net_peer_name_server(attributes, remote_host, mode)
    return attributes


class ServerSpanMiddleware(_DjangoMiddleware):
    """The Django instrumentation's middleware (its tracer, instruments, hooks and excluded
    URLs, set by DjangoInstrumentor), serving each WSGI request in one call instead of its
    four hooks. Same spans, attributes and metrics, but per request:
    - the excluded-URL check runs once, on a URL put together from the request (not built
      and validated by Django);
    - the method, scheme and protocol attributes are worked out once per combination;
    - sampling is decided before the SDK: a request that will not be recorded gets a
      non-recording span of its own (_start_span), without the SDK's span machinery;
    - a request whose span is not recording gets only the attributes its metrics need
      (method, scheme, protocol version, status, route), not all of them (user agent,
      addresses ...), and its status goes straight into the metric attributes;
    - the attributes it builds itself (the request's, the response's status code), strings
      and integers, go into a recording span without the SDK's check of each value;
    - the path is resolved at the start only when a sampling rule by route needs the name
      to decide; otherwise the span starts named by its method, Django resolves the path
      once, and the response hook names a recording span by its route template;
    - the capture-headers variables are read when the middleware is built.
    ASGI requests, and the old or duplicated HTTP conventions, go the instrumentation's way;
    under an ASGI handler in one coroutine (`_serve_async`), without a thread per request.
    """

    # Django calls it in whichever mode its handler runs: no sync_to_async around an async
    # view's chain (docs/telemetry.md, "Servers").
    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        super().__init__(get_response)
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)
            # Django wraps a synchronous process_view in sync_to_async for an async handler
            # (a thread hop per request): give it the same method as a coroutine.
            self.process_view = self._process_view_async  # type: ignore[method-assign]
        self._lean = self._sem_conv_opt_in_mode is _StabilityMode.HTTP
        self._capture_request_headers = bool(
            os.environ.get(OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST)
        )
        self._capture_response_headers = bool(
            os.environ.get(OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE)
        )
        self._url_check = url_check(self._excluded_urls)
        self._checked_list: object = self._excluded_urls

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._async:
            return self._serve_async(request)  # type: ignore[return-value]  # awaited by Django
        if not self._lean or _is_asgi_request(request):
            return super().__call__(request)
        # The list DjangoInstrumentor set last (an instrument() after this middleware was
        # built replaces it), checked by its pattern's own search.
        if self._excluded_urls is not self._checked_list:  # check first: threads race here
            self._url_check = url_check(self._excluded_urls)
            self._checked_list = self._excluded_urls
        if self._url_check(_url_for_exclusion(request)):
            setattr(request, _SERVED, False)
            return self.get_response(request)
        setattr(request, _SERVED, True)
        meta = request.META
        name, start_attributes, duration_attributes, count_in_flight = _request_basics(
            meta.get("REQUEST_METHOD", ""),
            meta.get("wsgi.url_scheme", ""),
            meta.get("SERVER_PROTOCOL", ""),
            self._active_request_counter,
        )
        # A sampling rule by route decides on the span's name: then it starts named by it.
        if current_policy().decides_by_route:
            name = self._get_span_name(request)
        span, parent_context, parent_token = self._start_span(name, meta, start_attributes)
        if span.is_recording():
            self._add_request_attributes(span, request)
        # The duration metric's attributes: the hooks add the route, the response its status.
        attributes = dict(duration_attributes)
        meta[self._environ_duration_attr_key] = attributes
        count_in_flight(1)
        token = attach(set_span_in_context(span, parent_context))
        try:
            if _DjangoMiddleware._otel_request_hook:
                self._call_hook(_DjangoMiddleware._otel_request_hook, span, request)
            started = default_timer()
            response = self.get_response(request)
            self._add_response_attributes(span, request, response, attributes)
            if _DjangoMiddleware._otel_response_hook:
                self._call_hook(_DjangoMiddleware._otel_response_hook, span, request, response)
            # Recorded while the span is current, so an exemplar can point at it.
            self._duration_histogram_new.record(max(default_timer() - started, 0), attributes)
            return response
        except Exception as exc:  # outside the views (those become 500 responses first)
            mark_failed(span, exc)
            raise
        finally:
            count_in_flight(-1)
            span.end()
            detach(token)
            if parent_token is not None:
                detach(parent_token)

    def _start_span(
        self, name: str, meta: dict, attributes: dict
    ) -> tuple[Span, Context | None, object]:
        """The request's span, the context to make it current in (None: the current one) and
        the token of a context the instrumentation's way attached (or None).

        A server span is decided before the SDK is involved: the propagated context, the
        trace id (the parent's, or a new one), the sampler's decision, exactly as the SDK's
        Tracer.start_span would make it. A request that will not be recorded gets a
        non-recording span with that trace id (propagation and log correlation still work)
        and none of the SDK's span machinery; a kept one is started by the SDK on the same
        trace id (DecidedTraceIds). The propagated context is not attached on its own: the
        span is made current in it, in one step. Inside a current span, or with a tracer
        that is not the SDK's with our ids, it goes the instrumentation's way."""
        tracer = self._tracer
        ids = getattr(tracer, "id_generator", None)
        if (
            ids.__class__ is not DecidedTraceIds
            or get_current_span() is not INVALID_SPAN
            or not tracer._is_enabled()
        ):
            span, token = _start_internal_or_server_span(
                tracer=tracer,
                span_name=name,
                start_time=meta.get(_START_TIME_KEY),
                context_carrier=meta,
                context_getter=wsgi_getter,
                attributes=attributes,
            )
            return span, None, token
        if _carries_no_context(meta):  # what extract would give: the current context
            parent_context, parent, root = None, INVALID_SPAN_CONTEXT, True
        else:
            parent_context = extract(meta, getter=wsgi_getter)
            parent = get_current_span(parent_context).get_span_context()
            root = not parent.is_valid
        trace_id = ids.generate_trace_id() if root else parent.trace_id
        decided = tracer.sampler.should_sample(
            parent_context, trace_id, name, SpanKind.SERVER, attributes
        )
        if decided.decision.is_recording():
            if root:
                ids.name_next(trace_id)
            try:
                # No start attributes: the SDK would check each and the sampler copy them in
                # (the span's attributes are its result's), and __call__ sets all of them, as
                # plain values, right after (_add_request_attributes).
                span = tracer.start_span(
                    name,
                    parent_context,
                    SpanKind.SERVER,
                    start_time=meta.get(_START_TIME_KEY),
                )
            finally:
                ids.name_next(0)
            return span, parent_context, None
        random_id = ids.is_trace_id_random() if root else parent.trace_flags.random_trace_id
        context = SpanContext(
            trace_id,
            ids.generate_span_id(),
            is_remote=False,
            trace_flags=_UNSAMPLED_RANDOM_ID if random_id else _UNSAMPLED,
            trace_state=decided.trace_state,
        )
        return NonRecordingSpan(context), parent_context, None

    async def _serve_async(self, request: HttpRequest) -> HttpResponse:
        """An ASGI request, as the instrumentation serves it (its process_request and
        process_response: the span from the ASGI scope, the same hooks, names and metrics),
        in the request's own coroutine. Both steps only compute, so they run on the event
        loop; the span is current (attached to the task's context) while the view runs."""
        self.process_request(request)
        response = await self.get_response(request)
        return self.process_response(request, response)

    async def _process_view_async(self, request, view_func, *args, **kwargs):
        return ServerSpanMiddleware.process_view(self, request, view_func, *args, **kwargs)

    def _add_request_attributes(self, span: Span, request: HttpRequest) -> None:
        attributes = _request_attributes(request.META)
        attributes = extract_attributes_from_object(request, self._traced_request_attrs, attributes)
        if self._capture_request_headers and span.kind == SpanKind.SERVER:
            custom_attributes = collect_custom_request_headers_attributes(request.META)
            if custom_attributes:
                span.set_attributes(custom_attributes)
        set_plain_attributes(span, attributes)

    def _add_response_attributes(
        self, span: Span, request: HttpRequest, response: HttpResponse, attributes: dict
    ) -> None:
        status = response.status_code
        if span.is_recording():
            _set_response_status(span, status, attributes)
            if self._capture_response_headers and span.kind == SpanKind.SERVER:
                custom_attributes = collect_custom_response_headers_attributes(response.items())
                if custom_attributes:
                    span.set_attributes(custom_attributes)
            exception = request.META.pop(self._environ_exception_key, None)
            if exception is not None:
                mark_failed(span, exception)
        else:  # what add_response_attributes gives the metric, without a span to set
            attributes[HTTP_RESPONSE_STATUS_CODE] = status
            if http_status_to_status_code(status, server_span=True) is StatusCode.ERROR:
                attributes[ERROR_TYPE] = str(status)
        propagator = get_global_response_propagator()
        if propagator.__class__ is TraceResponsePropagator:
            _set_traceresponse(response, span.get_span_context())
        elif propagator:
            propagator.inject(response)

    @staticmethod
    def _call_hook(hook, *args) -> None:
        try:
            hook(*args)
        except Exception:
            logger.exception("Exception raised by %s", getattr(hook, "__name__", hook))

    def process_view(self, request, view_func, *args, **kwargs):
        if getattr(request, _SERVED, None) is None:
            return super().process_view(request, view_func, *args, **kwargs)
        return None  # the response hook names the span and the metric by the route template

    def process_exception(self, request, exception):
        served = getattr(request, _SERVED, None)
        if served is None:
            return super().process_exception(request, exception)
        if served:
            request.META[self._environ_exception_key] = exception
        return None


# The statuses a response gives a server span (Status only has read-only properties).
_STATUSES = {code: Status(code) for code in (StatusCode.UNSET, StatusCode.ERROR)}


def _set_response_status(span: Span, status: int, attributes: dict) -> None:
    """What add_response_attributes does in the stable HTTP conventions, for Django's integer
    status (100-599): the status code, and error.type for a 5xx, on the span and in the
    metric's attributes, and the span's status; the span's attributes set as plain values
    (the middleware knows their types), the Status objects built once."""
    code = http_status_to_status_code(status, server_span=True)
    attributes[HTTP_RESPONSE_STATUS_CODE] = status
    if code is StatusCode.ERROR:
        attributes[ERROR_TYPE] = str(status)
        set_plain_attributes(span, {HTTP_RESPONSE_STATUS_CODE: status, ERROR_TYPE: str(status)})
    else:
        set_plain_attributes(span, {HTTP_RESPONSE_STATUS_CODE: status})
    span.set_status(_STATUSES.get(code) or Status(code))


def _set_traceresponse(response: HttpResponse, context: SpanContext) -> None:
    """What TraceResponsePropagator.inject(response) writes for the current span (this
    request's), with the headers it appends to, without its lookups and setter calls."""
    if context == INVALID_SPAN_CONTEXT:
        return
    headers = response.headers
    value = f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
    for name, added in ((_TRACERESPONSE, value), (_EXPOSE_HEADERS, _TRACERESPONSE)):
        old = headers.get(name)
        headers[name] = f"{old}, {added}" if old else added
