"""Old alert events go by themselves: the webhook prunes those last heard of more than
ALERT_EVENT_RETENTION_DAYS ago (at most hourly per process), `prune_alert_events` does it from
cron; rule publications that old go too, never the one in force."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from telemetry.alerting import retention
from telemetry.models import AlertEvent, PublicationOutcome, RulePublication
from tests.telemetry.alerting.test_alertmanager_webhook import FIRING, TOKEN, URL

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _prune_not_yet_run(monkeypatch):
    monkeypatch.setattr(retention, "_next_prune", 0.0)


def old_event(days: int, fingerprint: str = "00000000000000aa") -> AlertEvent:
    row = AlertEvent.objects.create(
        fingerprint=fingerprint,
        starts_at=timezone.now() - timedelta(days=days),
        status="resolved",
        alertname="HighLatency",
    )
    AlertEvent.objects.filter(pk=row.pk).update(last_received_at=row.starts_at)
    return row


def notify(client: APIClient, fingerprint: str, capture) -> None:
    payload = copy.deepcopy(FIRING)
    payload["alerts"][0]["fingerprint"] = fingerprint
    # The prune runs once the notification's transaction commits (here: the test's savepoint).
    with capture(execute=True):
        response = client.post(URL, payload, format="json", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content


def test_the_webhook_prunes_old_events_as_new_ones_arrive(
    settings, django_capture_on_commit_callbacks
):
    settings.ALERTMANAGER_WEBHOOK_TOKEN = TOKEN
    settings.ALERT_EVENT_RETENTION_DAYS = 30
    old, recent = old_event(40), old_event(10, "00000000000000bb")
    notify(APIClient(), "00000000000000cc", django_capture_on_commit_callbacks)
    assert not AlertEvent.objects.filter(pk=old.pk).exists()
    assert AlertEvent.objects.filter(pk=recent.pk).exists()
    assert AlertEvent.objects.filter(fingerprint="00000000000000cc").exists()
    # At most hourly: an old event arriving meanwhile stays until the next round.
    older = old_event(50, "00000000000000dd")
    notify(APIClient(), "00000000000000ee", django_capture_on_commit_callbacks)
    assert AlertEvent.objects.filter(pk=older.pk).exists()


def test_a_retention_of_zero_keeps_everything(settings, django_capture_on_commit_callbacks):
    settings.ALERTMANAGER_WEBHOOK_TOKEN = TOKEN
    settings.ALERT_EVENT_RETENTION_DAYS = 0
    old = old_event(4000)
    notify(APIClient(), "00000000000000cc", django_capture_on_commit_callbacks)
    assert AlertEvent.objects.filter(pk=old.pk).exists()


def test_the_command_prunes_events_and_old_publications_but_the_one_in_force(capsys):
    old_event(40)
    in_force = RulePublication.objects.create(source="admin", outcome=PublicationOutcome.LIVE)
    refused = RulePublication.objects.create(source="admin", outcome=PublicationOutcome.REFUSED)
    latest = RulePublication.objects.create(source="admin", outcome=PublicationOutcome.REFUSED)
    long_ago = timezone.now() - timedelta(days=40)
    RulePublication.objects.update(started_at=long_ago)
    call_command("prune_alert_events", "--days", "30")
    assert "deleted 1 alert event(s) and 1 rule publication(s)" in capsys.readouterr().out
    assert set(RulePublication.objects.values_list("pk", flat=True)) == {in_force.pk, latest.pk}
    assert not RulePublication.objects.filter(pk=refused.pk).exists()


def test_the_command_refuses_a_negative_age():
    with pytest.raises(CommandError, match="--days"):
        call_command("prune_alert_events", "--days", "-1")
