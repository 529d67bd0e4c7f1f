"""The per-request path of our server-span middleware and hooks: what a request whose trace
is not sampled still gets (its duration metric, by route template, with the same attributes
as a sampled one), and the work it is spared (request attributes, a second URL resolution,
the absolute URL built in every hook, a metric measurement for the in-flight count).
In-process, real SDK, read from memory."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.http import HttpRequest
from django.test import Client
from opentelemetry.instrumentation.django.middleware import otel_middleware

from telemetry.conventions.routes import route_template
from telemetry.fastpath import server_span

pytestmark = pytest.mark.django_db

UNSAMPLED_PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"


SAMPLED_PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_our_middleware_takes_the_place_of_the_instrumentations(otel):
    ours = "telemetry.fastpath.server_span.ServerSpanMiddleware"
    theirs = "opentelemetry.instrumentation.django.middleware.otel_middleware._DjangoMiddleware"
    assert ours in settings.MIDDLEWARE
    assert theirs not in settings.MIDDLEWARE


@pytest.fixture(name="calls")
def calls_fixture(monkeypatch):
    """How often the per-request path builds request attributes, resolves the path to name
    the span, and builds the absolute URL."""
    calls = {"attributes": 0, "resolve": 0, "absolute_uri": 0}

    def counting(name, function):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(
        server_span,
        "collect_request_attributes",
        counting("attributes", server_span.collect_request_attributes),
    )
    monkeypatch.setattr(otel_middleware, "resolve", counting("resolve", otel_middleware.resolve))
    monkeypatch.setattr(
        HttpRequest,
        "build_absolute_uri",
        counting("absolute_uri", HttpRequest.build_absolute_uri),
    )
    return calls


def test_an_unsampled_request_is_spared_the_span_only_work(otel, calls):
    response = Client().get("/", HTTP_TRACEPARENT=UNSAMPLED_PARENT)

    assert response.status_code == 200
    assert calls == {"attributes": 0, "resolve": 0, "absolute_uri": 0}


def test_a_sampled_request_gets_every_attribute_and_its_route_name(otel, calls):
    response = Client().get("/", HTTP_TRACEPARENT=SAMPLED_PARENT, HTTP_USER_AGENT="probe/1.0")

    assert response.status_code == 200
    assert calls == {"attributes": 1, "resolve": 0, "absolute_uri": 0}
    (span,) = otel.finished_spans()
    assert span.name == "GET /"
    assert span.attributes["http.route"] == "/"
    assert span.attributes["user_agent.original"] == "probe/1.0"
    assert span.attributes["client.address"] == "127.0.0.1"


def test_route_templates_are_computed_once_per_route():
    route_template.cache_clear()
    for _ in range(3):
        assert route_template("api/users/<int:user_id>") == "/api/users/{user_id}"
    assert route_template.cache_info().misses == 1


def test_an_unsampled_request_records_its_duration_with_a_sampled_ones_attributes(otel):
    def points(route: str) -> dict:
        return {
            frozenset(point.attributes.items()): point.count
            for point in otel.metric_points("http.server.request.duration")
            if point.attributes.get("http.route") == route
        }

    Client().get("/", HTTP_TRACEPARENT=SAMPLED_PARENT)
    (sampled_attributes,) = points("/")
    before = points("/")[sampled_attributes]
    otel.spans.clear()

    response = Client().get("/?q=x", HTTP_TRACEPARENT=UNSAMPLED_PARENT)

    assert response.status_code == 200
    assert otel.finished_spans() == []
    # The same series, one more request: method, scheme, protocol version, status and route.
    assert points("/") == {sampled_attributes: before + 1}
    assert dict(sampled_attributes) == {
        "http.request.method": "GET",
        "url.scheme": "http",
        "network.protocol.version": "1.1",
        "http.response.status_code": 200,
        "http.route": "/",
    }


def test_in_flight_requests_are_counted_without_a_measurement_per_request(
    otel, monkeypatch, synchronous_measurements
):
    measured = synchronous_measurements
    seen_in_flight = []

    def in_flight() -> int:
        return sum(
            point.value
            for point in otel.metric_points("http.server.active_requests")
            if point.attributes == {"http.request.method": "GET", "url.scheme": "http"}
        )

    response_hook = otel_middleware._DjangoMiddleware._otel_response_hook

    def response_hook_counting_in_flight(span, request, response):
        seen_in_flight.append(in_flight())
        return response_hook(span, request, response)

    monkeypatch.setattr(
        otel_middleware._DjangoMiddleware, "_otel_response_hook", response_hook_counting_in_flight
    )

    def durations_recorded() -> int:
        points = otel.metric_points("http.server.request.duration")
        return sum(p.count for p in points if p.attributes.get("http.route") == "/")

    before = in_flight()
    recorded_before = durations_recorded()

    response = Client().get("/", HTTP_TRACEPARENT=UNSAMPLED_PARENT)

    assert response.status_code == 200
    # Counted up while the request was served, down after, and exported as the same series...
    assert seen_in_flight == [before + 1]
    assert in_flight() == before
    # ...while the request makes no synchronous SDK measurement at all: its duration is
    # tallied in memory too (reading the metrics in this test is timed by the reader's own
    # otel.sdk.metric_reader.*).
    request_measurements = [n for n in measured if not n.startswith("otel.sdk.metric_reader.")]
    assert request_measurements == []
    assert durations_recorded() == recorded_before + 1


def test_excluded_urls_are_matched_against_the_url_without_its_query():
    from django.test import RequestFactory

    request = RequestFactory().get("/health", {"verbose": "1"}, HTTP_HOST="127.0.0.1:8000")
    assert server_span._url_for_exclusion(request) == "http://127.0.0.1:8000/health"
    assert request.build_absolute_uri("?") == "http://127.0.0.1:8000/health"
