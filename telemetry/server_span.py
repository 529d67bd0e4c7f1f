"""ServerSpanMiddleware: the Django instrumentation's middleware, doing per request only what
the span needs (docs/overhead.md). It subclasses private classes of
opentelemetry-instrumentation-django: check it again whenever that package is upgraded."""

from __future__ import annotations

import logging
import os
from time import time
from timeit import default_timer

from django.http import HttpRequest
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
from opentelemetry.semconv.attributes.http_attributes import HTTP_ROUTE
from opentelemetry.trace import SpanKind, use_span
from opentelemetry.util.http import (
    OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST,
    OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE,
    sanitize_method,
)

logger = logging.getLogger(__name__)


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
