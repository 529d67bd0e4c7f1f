"""POST /api/process: synchronous processing that calls the downstream service over a real
socket (pytest-django's live server plays the downstream, as this service would)."""

from __future__ import annotations

import pytest

from processing.models import ProcessingJob
from tests.harness.servers import free_port


@pytest.fixture
def downstream_is_live_server(live_server, settings):
    settings.PROCESSING_DOWNSTREAM_URL = f"{live_server.url}/api/downstream/enrich"


@pytest.mark.django_db(transaction=True)
def test_it_processes_data_through_the_downstream(user_client, downstream_is_live_server):
    response = user_client.post("/api/process", {"data": "Hello hello world"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    analysis = body["result"]["analysis"]
    assert analysis["words"] == 3
    assert analysis["unique_words"] == 2
    assert analysis["top_words"][0] == ["hello", 2]
    assert body["result"]["enrichment"] == {
        "size_class": "short",
        "reading_time_seconds": 0.8,
        "digest_prefix": analysis["sha256"][:12],
    }
    assert body["processing_time_ms"] > 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "message_part"),
    [
        ({}, "required"),
        ({"data": None}, "null"),
        ({"data": ["a", "list"]}, "Not a valid string"),
        ({"data": "x" * 101}, "no more than 100 characters"),
    ],
)
def test_it_rejects_bad_input(user_client, settings, payload, message_part):
    settings.PROCESSING_MAX_DATA_CHARS = 100
    response = user_client.post("/api/process", payload, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert message_part in error["fields"]["data"][0]


@pytest.mark.django_db
def test_it_accepts_data_at_the_limit_but_empty_is_refused(user_client, settings):
    settings.PROCESSING_MAX_DATA_CHARS = 10
    settings.PROCESSING_DOWNSTREAM_URL = f"http://127.0.0.1:{free_port()}/enrich"
    # At the limit the input is valid, so the request reaches the (dead) downstream.
    at_limit = user_client.post("/api/process", {"data": "x" * 10}, format="json")
    assert at_limit.status_code == 502
    empty = user_client.post("/api/process", {"data": ""}, format="json")
    assert empty.status_code == 400


@pytest.mark.django_db
def test_it_answers_502_when_the_downstream_is_down(user_client, settings):
    dead_port = free_port()
    settings.PROCESSING_DOWNSTREAM_URL = f"http://127.0.0.1:{dead_port}/enrich"
    response = user_client.post("/api/process", {"data": "anything"}, format="json")
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "downstream_unavailable"
    assert f"127.0.0.1:{dead_port}" in error["message"]


@pytest.mark.django_db(transaction=True)
def test_it_answers_502_when_the_downstream_refuses(user_client, live_server, settings):
    # The users API refuses anonymous callers with 401: a 4xx downstream answer.
    settings.PROCESSING_DOWNSTREAM_URL = f"{live_server.url}/api/users"
    response = user_client.post("/api/process", {"data": "anything"}, format="json")
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "downstream_rejected"


def test_it_requires_authentication(anon_client, db):
    response = anon_client.post("/api/process", {"data": "x"}, format="json")
    assert response.status_code == 401
    assert ProcessingJob.objects.count() == 0


@pytest.mark.django_db
def test_a_body_larger_than_django_accepts_is_a_400_not_a_500(user_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = user_client.post("/api/process", {"data": "x" * 5000}, format="json")
    assert response.status_code in (400, 413)
    assert "error" in response.json()
