"""ServerSpanMiddleware against the middleware it replaces, the Django instrumentation's
_DjangoMiddleware, side by side on the same requests: each request is served once through
each, with the same tracer, instruments and hooks (those telemetry.pipeline.instrumentation
gives DjangoInstrumentor), and what each produced is compared: the server span (name, kind,
status, attributes, events, parent) and the http.server.request.duration and
http.server.active_requests points (attributes and counts; durations differ).
In-process, real SDK, read from memory."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from django.conf import settings
from django.test import Client, override_settings
from opentelemetry.trace import SpanKind

from telemetry.pipeline import middleware
from tests.telemetry.fastpath import side_by_side_urls
from tests.telemetry.in_memory import InMemoryTelemetry

pytestmark = pytest.mark.django_db

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SAMPLED_PARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
UNSAMPLED_PARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-00"

# (method, path, body): every way a request can end, and the route shapes.
REQUESTS = [
    ("GET", "/side/ok", None),  # 200
    ("GET", "/side/missing", None),  # 404, no route
    ("GET", "/side/fail/3", None),  # the view raises: 500
    ("GET", "/side/unavailable", None),  # a 5xx the view answers
    ("GET", "/side/items/42", None),  # a path converter
    ("GET", "/side/items/42?q=secret&page=2", None),  # a query string
    ("POST", "/side/echo", b"hello"),  # a POST with a body
    ("PUT", "/side/echo", b"{}"),  # a 405
    ("FOO", "/side/ok", None),  # a method no convention knows
    ("GET", "/health", None),  # excluded: neither span nor metric
]
# No traceparent (a root, kept by the default sampler), a sampled and an unsampled parent.
TRACE_HEADERS = [None, SAMPLED_PARENT, UNSAMPLED_PARENT]
CASES = [(request, header) for request in REQUESTS for header in TRACE_HEADERS]
# The one intended difference (telemetry.upstream.private_api, _DjangoMiddleware's entry):
# the stock middleware's exception events carry a frame of use_span on top of the traceback.
USE_SPAN_FRAME = re.compile(
    r'  File "[^"]*/opentelemetry/trace/__init__\.py", line \d+, in use_span\n    yield span\n'
)


@dataclass
class Served:
    """What one request produced through one middleware."""

    status_code: int
    spans: list[dict]
    durations: dict[frozenset, int]  # attribute set -> points added
    in_flight_while_serving: dict[frozenset, float] = field(default_factory=dict)
    in_flight_after: dict[frozenset, float] = field(default_factory=dict)
    stacktraces: list[str] = field(default_factory=list)  # as recorded, exception events


def _points(otel: InMemoryTelemetry, name: str) -> dict[frozenset, float]:
    values: dict[frozenset, float] = {}
    for point in otel.metric_points(name):
        key = frozenset(point.attributes.items())
        values[key] = point.count if hasattr(point, "count") else point.value
    return values


def _changed(before: dict[frozenset, float], after: dict[frozenset, float]) -> dict:
    keys = before.keys() | after.keys()
    changes = {key: after.get(key, 0) - before.get(key, 0) for key in keys}
    return {key: change for key, change in changes.items() if change}


def _described(span) -> dict:
    return {
        "name": span.name,
        "kind": span.kind,
        "status": (span.status.status_code, span.status.description),
        "attributes": dict(span.attributes),
        "events": [(event.name, _without_use_span(event.attributes)) for event in span.events],
        "parent": (span.parent.span_id, span.parent.is_remote) if span.parent else None,
        "trace_id": span.context.trace_id if span.parent else None,
        "scope": span.instrumentation_scope.name,
    }


def _without_use_span(attributes) -> dict:
    attributes = dict(attributes)
    if "exception.stacktrace" in attributes:
        attributes["exception.stacktrace"] = USE_SPAN_FRAME.sub(
            "", attributes["exception.stacktrace"]
        )
    return attributes


def _serve(otel: InMemoryTelemetry, server_span: str, method, path, body, header) -> Served:
    telemetry_server_spans = {middleware.SERVER_SPAN, middleware.STOCK_SERVER_SPAN}
    chain = [server_span if p in telemetry_server_spans else p for p in settings.MIDDLEWARE]
    assert chain.count(server_span) == 1
    seen_in_flight: list[dict] = []
    before_in_flight = _points(otel, "http.server.active_requests")

    def in_flight_probe() -> None:
        seen_in_flight.append(_points(otel, "http.server.active_requests"))

    headers = {"HTTP_TRACEPARENT": header} if header else {}
    with override_settings(
        MIDDLEWARE=chain, ROOT_URLCONF="tests.telemetry.fastpath.side_by_side_urls"
    ):
        client = Client(raise_request_exception=False)
        otel.spans.clear()
        before = _points(otel, "http.server.request.duration")
        side_by_side_urls.while_serving.append(in_flight_probe)
        try:
            if body is None:
                response = client.generic(method, path, **headers)
            else:
                response = client.generic(method, path, body, content_type="text/plain", **headers)
        finally:
            side_by_side_urls.while_serving.remove(in_flight_probe)
        after = _points(otel, "http.server.request.duration")
    server_spans = [s for s in otel.finished_spans() if s.kind is SpanKind.SERVER]
    served = Served(
        response.status_code, [_described(s) for s in server_spans], _changed(before, after)
    )
    served.stacktraces = [
        event.attributes["exception.stacktrace"]
        for span in server_spans
        for event in span.events
        if "exception.stacktrace" in event.attributes
    ]
    if seen_in_flight:
        served.in_flight_while_serving = _changed(before_in_flight, seen_in_flight[0])
    served.in_flight_after = _changed(
        before_in_flight, _points(otel, "http.server.active_requests")
    )
    return served


@pytest.mark.parametrize(
    ("request_line", "header"),
    CASES,
    ids=[
        f"{m} {p} {['root', 'sampled', 'unsampled'][TRACE_HEADERS.index(h)]}"
        for (m, p, _), h in CASES
    ],
)
def test_it_produces_what_the_instrumentations_middleware_produces(otel, request_line, header):
    method, path, body = request_line

    ours = _serve(otel, middleware.SERVER_SPAN, method, path, body, header)
    stock = _serve(otel, middleware.STOCK_SERVER_SPAN, method, path, body, header)

    assert ours.status_code == stock.status_code
    assert ours.spans == stock.spans
    assert ours.durations == stock.durations
    assert ours.in_flight_while_serving == stock.in_flight_while_serving
    assert ours.in_flight_after == stock.in_flight_after == {}


def test_the_stock_stacktrace_differs_only_by_the_use_span_frame(otel):
    ours = _serve(otel, middleware.SERVER_SPAN, "GET", "/side/fail/4", None, None)
    stock = _serve(otel, middleware.STOCK_SERVER_SPAN, "GET", "/side/fail/4", None, None)

    (ours_trace,) = ours.stacktraces
    (stock_trace,) = stock.stacktraces
    assert "side_by_side_urls.py" in ours_trace
    assert not USE_SPAN_FRAME.search(ours_trace)
    assert len(USE_SPAN_FRAME.findall(stock_trace)) == 1
    assert USE_SPAN_FRAME.sub("", stock_trace) == ours_trace


def test_the_comparison_sees_spans_and_points(otel):
    """The side-by-side test compares something: a recorded request has its span, its
    duration point and its in-flight count, through either middleware."""
    for server_span in (middleware.SERVER_SPAN, middleware.STOCK_SERVER_SPAN):
        served = _serve(otel, server_span, "GET", "/side/items/7?q=x", None, SAMPLED_PARENT)

        (span,) = served.spans
        assert span["name"] == "GET /side/items/{item_id}"
        assert span["attributes"]["http.route"] == "/side/items/{item_id}"
        assert span["attributes"]["url.query"] == "q=REDACTED"
        ((attributes, added),) = served.durations.items()
        assert added == 1
        assert dict(attributes)["http.route"] == "/side/items/{item_id}"
        assert served.in_flight_while_serving == {
            frozenset({"http.request.method": "GET", "url.scheme": "http"}.items()): 1
        }
