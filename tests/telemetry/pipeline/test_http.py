"""Server spans and HTTP metrics from the Django instrumentation, as this service sets it up:
route templates, excluded probes, continued traces, errors. In-process, real SDK, spans and
metrics read from memory."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings
from opentelemetry.trace import SpanKind, StatusCode

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"


def server_spans(memory):
    return [s for s in memory.finished_spans() if s.kind == SpanKind.SERVER]


def duration_points(memory, route: str):
    return [
        p
        for p in memory.metric_points("http.server.request.duration")
        if p.attributes.get("http.route") == route
    ]


def test_a_server_span_is_named_by_its_route_template(otel):
    staff = UserFactory(is_staff=True)
    client = Client()
    client.force_login(staff)

    response = client.get(f"/api/users/{staff.pk}")

    assert response.status_code == 200
    (span,) = server_spans(otel)
    assert span.name == "GET /api/users/{user_id}"
    assert span.attributes["http.route"] == "/api/users/{user_id}"
    assert span.attributes["http.response.status_code"] == 200
    # Cumulative points: earlier tests may have added others for this route (a 404, a POST).
    (point,) = [
        p
        for p in duration_points(otel, "/api/users/{user_id}")
        if p.attributes["http.request.method"] == "GET"
        and p.attributes["http.response.status_code"] == 200
    ]
    assert point.count >= 1 and point.sum < 30 * point.count  # seconds, not milliseconds


def test_the_probes_are_not_traced(otel):
    client = Client()
    for path in ("/health", "/ready", "/metrics"):
        assert client.get(path).status_code in (200, 401, 503)
    # No server span, and no root spans for the database and broker checks of /ready.
    assert otel.finished_spans() == []


def test_an_incoming_traceparent_is_continued(otel):
    response = Client().get("/", HTTP_TRACEPARENT=TRACEPARENT)

    assert response.status_code == 200
    (span,) = server_spans(otel)
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert format(span.parent.span_id, "016x") == PARENT_SPAN_ID
    assert span.name == "GET /"


@override_settings(ROOT_URLCONF="tests.telemetry.urls")
def test_an_unhandled_exception_marks_the_span_and_counts_as_an_error(otel):
    before = otel.count("app.errors", **{"error.type": "ZeroDivisionError"})

    response = Client(raise_request_exception=False).get("/test/fail/3")

    assert response.status_code == 500
    (span,) = server_spans(otel)
    assert span.name == "GET /test/fail/{attempt}"
    assert span.status.status_code == StatusCode.ERROR
    (event,) = [e for e in span.events if e.name == "exception"]
    assert event.attributes["exception.type"].endswith("ZeroDivisionError")
    assert event.attributes["exception.message"] == "attempt 3 failed"
    after = otel.count("app.errors", **{"error.type": "ZeroDivisionError"})
    assert after == before + 1
    (point,) = duration_points(otel, "/test/fail/{attempt}")
    assert point.attributes["http.response.status_code"] == 500


def test_a_client_error_is_not_a_server_error(otel):
    errors_before = otel.count("app.errors")

    response = Client().get("/api/users/12345")  # not logged in: 401

    assert response.status_code in (401, 403)
    (span,) = server_spans(otel)
    assert span.status.status_code == StatusCode.UNSET
    assert not [e for e in span.events if e.name == "exception"]
    assert otel.count("app.errors") == errors_before


def test_an_unknown_path_keeps_a_low_cardinality_span_name(otel):
    response = Client().get("/no/such/page/42")

    assert response.status_code == 404
    (span,) = server_spans(otel)
    assert span.name == "GET"
    assert "http.route" not in span.attributes
