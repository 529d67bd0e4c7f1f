"""Our Django instrumentation hooks on the per-request path: what they still do for a request
whose trace is not sampled (the route template in the duration metric), and what they leave
out (nothing is set on the span). In-process, real SDK, read from memory."""

from __future__ import annotations

import pytest
from django.test import Client
from opentelemetry.instrumentation.django.middleware.otel_middleware import _DjangoMiddleware

from telemetry.instrumentation import DURATION_ATTRS_META_KEY, route_template
from tests.telemetry_in_memory import otel_fixture, otel_session_fixture  # noqa: F401

pytestmark = pytest.mark.django_db

UNSAMPLED_PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"


def test_the_hook_reads_the_duration_attributes_where_the_instrumentation_keeps_them():
    assert DURATION_ATTRS_META_KEY == _DjangoMiddleware._environ_duration_attr_key


def test_route_templates_are_computed_once_per_route():
    route_template.cache_clear()
    for _ in range(3):
        assert route_template("api/users/<int:user_id>") == "/api/users/{user_id}"
    assert route_template.cache_info().misses == 1


def test_an_unsampled_request_records_its_duration_by_route_and_no_span(otel):
    def count(route: str) -> int:
        return sum(
            point.count
            for point in otel.metric_points("http.server.request.duration")
            if point.attributes.get("http.route") == route
        )

    before = count("/")
    response = Client().get("/?q=x", HTTP_TRACEPARENT=UNSAMPLED_PARENT)

    assert response.status_code == 200
    assert otel.finished_spans() == []
    assert count("/") == before + 1
