"""The public endpoints of the site: index, liveness, readiness, metrics, OpenAPI."""

from __future__ import annotations

import re

import pytest
import yaml
from django.db import connection


def test_index_names_the_service_and_links(anon_client, settings):
    body = anon_client.get("/").json()
    assert body["service"] == settings.SERVICE_NAME
    assert body["links"]["api_docs"] == "/api/docs/"
    assert body["links"]["ready"] == "/ready"


def test_health_answers_without_touching_dependencies(anon_client):
    response = anon_client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_ready_checks_the_database_and_the_broker(anon_client):
    response = anon_client.get("/ready")
    assert response.status_code == 200, response.json()
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "broker": "ok"}}


def test_health_refuses_post(anon_client):
    assert anon_client.post("/health").status_code == 405


@pytest.mark.django_db
def test_metrics_exposes_database_series_and_no_request_timing(anon_client, user):
    anon_client.get("/api/users")  # a request that runs queries
    response = anon_client.get("/metrics")
    assert response.status_code == 200
    text = response.content.decode()
    vendor = connection.vendor
    executed = re.search(
        rf'^django_db_execute_total\{{alias="default",vendor="{vendor}"\}} (\d+)', text, re.M
    )
    assert executed and float(executed.group(1)) > 0, text
    assert "# TYPE django_db_query_duration_seconds histogram" in text
    # Requests are timed once, by OpenTelemetry (http.server.request.duration over OTLP).
    assert "django_http_requests" not in text


@pytest.mark.django_db
def test_the_openapi_schema_describes_the_api(anon_client):
    response = anon_client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    for path in (
        "/api/users",
        "/api/users/{user_id}",
        "/api/process",
        "/api/jobs",
        "/api/jobs/{job_id}",
    ):
        assert path in schema["paths"], path
    assert "post" in schema["paths"]["/api/jobs"]
    assert {"tokenAuth", "cookieAuth"} <= set(schema["components"]["securitySchemes"])


@pytest.mark.django_db
def test_the_api_docs_page_serves_its_assets_locally(anon_client):
    response = anon_client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn.jsdelivr" not in html  # assets come from the sidecar, no network needed


def test_an_unknown_url_is_a_json_404(anon_client, db):
    response = anon_client.get("/no/such/page")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
