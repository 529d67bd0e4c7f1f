"""The Alertmanager webhook: bearer token, AlertEvent rows, repeats update, bad payloads 400."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
from rest_framework.test import APIClient

from telemetry.models import AlertEvent

pytestmark = pytest.mark.django_db

URL = "/api/telemetry/alertmanager/webhook"
TOKEN = "s3cret-webhook-token"
STARTS = "2026-11-25T16:00:00.123Z"

# A notification as Alertmanager 0.25 sends it (webhook payload version 4).
FIRING = {
    "receiver": "warning",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "HighErrorRate",
                "severity": "warning",
                "http_route": "/api/process",
            },
            "annotations": {"summary": "High 5xx error rate on /api/process", "description": "50%"},
            "startsAt": STARTS,
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://127.0.0.1:9090/graph?g0.expr=x",
            "fingerprint": "a1b2c3d4e5f60718",
        }
    ],
    "groupLabels": {"alertname": "HighErrorRate", "severity": "warning"},
    "commonLabels": {
        "alertname": "HighErrorRate",
        "severity": "warning",
        "http_route": "/api/process",
    },
    "commonAnnotations": {},
    "externalURL": "http://127.0.0.1:9093",
    "version": "4",
    "groupKey": '{}/{severity="warning"}:{alertname="HighErrorRate", severity="warning"}',
    "truncatedAlerts": 0,
}


def resolved() -> dict:
    payload = copy.deepcopy(FIRING)
    payload["status"] = "resolved"
    payload["alerts"][0].update(status="resolved", endsAt="2026-11-25T16:05:00Z")
    return payload


@pytest.fixture
def webhook(settings) -> APIClient:
    settings.ALERTMANAGER_WEBHOOK_TOKEN = TOKEN
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    return client


def test_it_stores_a_firing_alert(webhook):
    response = webhook.post(URL, FIRING, format="json")
    assert response.status_code == 200, response.content
    event = AlertEvent.objects.get()
    assert event.status == "firing"
    assert event.alertname == "HighErrorRate" and event.severity == "warning"
    assert event.labels["http_route"] == "/api/process"
    assert event.annotations["summary"] == "High 5xx error rate on /api/process"
    assert event.starts_at == datetime(2026, 11, 25, 16, 0, 0, 123000, tzinfo=UTC)
    assert event.ends_at is None  # Go's zero time means "no end yet"
    assert event.fingerprint == "a1b2c3d4e5f60718" and event.receiver == "warning"
    assert event.notifications == 1


def test_a_repeat_updates_the_same_event(webhook):
    webhook.post(URL, FIRING, format="json")
    webhook.post(URL, FIRING, format="json")
    event = AlertEvent.objects.get()
    assert event.notifications == 2


def test_the_resolved_notification_updates_the_event(webhook):
    webhook.post(URL, FIRING, format="json")
    response = webhook.post(URL, resolved(), format="json")
    assert response.status_code == 200
    event = AlertEvent.objects.get()
    assert event.status == "resolved"
    assert event.ends_at == datetime(2026, 11, 25, 16, 5, tzinfo=UTC)


def test_a_new_episode_of_the_same_alert_is_a_new_event(webhook):
    webhook.post(URL, FIRING, format="json")
    again = copy.deepcopy(FIRING)
    again["alerts"][0]["startsAt"] = "2026-11-25T17:00:00Z"
    webhook.post(URL, again, format="json")
    assert AlertEvent.objects.count() == 2


def test_it_refuses_a_wrong_or_missing_token(webhook):
    webhook.credentials(HTTP_AUTHORIZATION="Bearer wrong")
    response = webhook.post(URL, FIRING, format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    webhook.credentials()
    assert webhook.post(URL, FIRING, format="json").status_code == 401
    webhook.credentials(HTTP_AUTHORIZATION=f"Token {TOKEN}")
    assert webhook.post(URL, FIRING, format="json").status_code == 401
    assert not AlertEvent.objects.exists()


def test_it_refuses_everything_when_no_token_is_configured(settings):
    settings.ALERTMANAGER_WEBHOOK_TOKEN = None
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer anything")
    response = client.post(URL, FIRING, format="json")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "webhook_not_configured"
    assert "ALERTMANAGER_WEBHOOK_TOKEN" in response.json()["error"]["message"]
    assert not AlertEvent.objects.exists()


def broken(mutate) -> dict:
    payload = copy.deepcopy(FIRING)
    mutate(payload)
    return payload


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (broken(lambda p: p.pop("alerts")), "alerts"),
        (broken(lambda p: p.update(alerts=[])), "alerts"),
        (broken(lambda p: p.update(version="3")), "version"),
        (broken(lambda p: p.update(status="exploded")), "status"),
        (broken(lambda p: p["alerts"][0].update(startsAt="yesterday")), "alerts"),
        (broken(lambda p: p["alerts"][0].pop("fingerprint")), "alerts"),
        (broken(lambda p: p["alerts"][0]["labels"].pop("alertname")), "alerts"),
        (broken(lambda p: p["alerts"][0].update(labels={"alertname": ["x"]})), "alerts"),
        ([FIRING], "non_field_errors"),
    ],
)
def test_it_rejects_a_malformed_payload_with_field_errors(webhook, payload, field):
    response = webhook.post(URL, payload, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"]
    assert not AlertEvent.objects.exists()


def test_one_bad_alert_changes_nothing(webhook):
    webhook.post(URL, FIRING, format="json")
    payload = resolved()
    second = copy.deepcopy(payload["alerts"][0])
    second.update(fingerprint="ffff", startsAt="not a time")
    payload["alerts"].append(second)
    response = webhook.post(URL, payload, format="json")
    assert response.status_code == 400
    assert "startsAt" in str(response.json()["error"]["fields"]["alerts"])
    event = AlertEvent.objects.get()
    assert event.status == "firing" and event.notifications == 1  # the valid one untouched too


def test_it_rejects_a_body_that_is_not_json(webhook):
    response = webhook.post(URL, "not json", content_type="application/json")
    assert response.status_code == 400
    assert not AlertEvent.objects.exists()


def test_staff_list_the_events(webhook, staff_client, user_client):
    webhook.post(URL, FIRING, format="json")
    assert user_client.get("/api/telemetry/alert-events").status_code == 403
    listed = staff_client.get("/api/telemetry/alert-events", {"alertname": "HighErrorRate"})
    assert listed.status_code == 200
    (event,) = listed.json()["results"]
    assert event["status"] == "firing" and event["labels"]["http_route"] == "/api/process"


def test_the_admin_lists_the_events(webhook, staff):
    from django.test import Client

    webhook.post(URL, FIRING, format="json")
    client = Client()
    client.force_login(staff)
    response = client.get("/admin/telemetry/alertevent/")
    assert response.status_code == 200
    assert b"HighErrorRate" in response.content


def test_listing_rejects_a_filter_the_database_cannot_hold(staff_client):
    # A NUL character made PostgreSQL raise (a 500), found by the fuzzing test.
    response = staff_client.get("/api/telemetry/alert-events", {"alertname": "High\x00Error"})
    assert response.status_code == 400
    assert "alertname" in response.json()["error"]["fields"]
