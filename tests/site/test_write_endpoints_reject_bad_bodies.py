"""Every write endpoint answers a body it cannot take (not JSON, the wrong shape, too large)
with a 4xx JSON error and stores nothing."""

from __future__ import annotations

import pytest
from django.apps import apps

WRITE_ENDPOINTS = [
    "/api/users",
    "/api/process",
    "/api/jobs",
    "/api/downstream/enrich",
    "/api/telemetry/profiling-runs",
    "/api/telemetry/alertmanager/webhook",
]


def stored_rows() -> int:
    return sum(
        model.objects.count()
        for model in apps.get_models()
        if model._meta.app_label in {"users", "processing", "telemetry"}
    )


@pytest.fixture
def caller(staff_client, settings):
    settings.ALERTMANAGER_WEBHOOK_TOKEN = "webhook-token"
    staff_client.credentials(HTTP_AUTHORIZATION="Bearer webhook-token")
    return staff_client


@pytest.mark.django_db(databases="__all__")  # the local telemetry store has its own
@pytest.mark.parametrize("path", WRITE_ENDPOINTS)
@pytest.mark.parametrize(
    ("body", "expected"),
    [("{not json", 400), ("[1, 2, 3]", 400), ('"just a string"', 400), ("null", 400)],
)
def test_a_body_that_is_not_the_expected_json_is_a_400(caller, path, body, expected):
    before = stored_rows()
    response = caller.post(path, data=body, content_type="application/json")
    assert response.status_code == expected, (path, response.content[:300])
    assert "error" in response.json()
    assert stored_rows() == before


@pytest.mark.django_db(databases="__all__")  # the local telemetry store has its own
@pytest.mark.parametrize("path", WRITE_ENDPOINTS)
def test_a_body_over_the_upload_limit_is_refused(caller, path, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    before = stored_rows()
    big = '{"data": "' + "x" * 20_000 + '"}'
    response = caller.post(path, data=big, content_type="application/json")
    assert response.status_code in (400, 413), (path, response.status_code)
    assert "error" in response.json()
    assert stored_rows() == before
