"""Whether a row's current version is in force, from the publication log: in force after a
publish, pending once changed, failed when the publication of its change did not go live,
and out of Prometheus once disabled."""

from __future__ import annotations

import pytest

from telemetry.alerting import live
from telemetry.alerting.audit import Actor
from telemetry.alerting.publication_state import PublicationHistory
from telemetry.models import AlertRule, Source
from tests.telemetry.alerting.support import dead_url

pytestmark = pytest.mark.django_db

ACTOR = Actor(source=Source.COMMAND, label="test")


def status_of(rule: AlertRule) -> str:
    rule.refresh_from_db()
    return PublicationHistory.load().state_of(rule).status


@pytest.fixture
def rule(settings, tmp_path) -> AlertRule:
    settings.PROMETHEUS_RULES_FILE = str(tmp_path / "observability-site.rules.yml")
    settings.PROMETHEUS_URL = ""
    return AlertRule.objects.get(name="HighLatency")


def test_a_row_is_pending_then_in_force_then_pending_again(rule):
    assert status_of(rule) == "pending"
    live.publish_rules(actor=ACTOR, reason="test")
    assert status_of(rule) == "in_force"
    rule.for_duration = "10m"
    rule.save()
    assert status_of(rule) == "pending"
    # A change that renders the same (a digest of what Prometheus sees) stays in force.
    rule.for_duration = "5m"
    rule.save()
    assert status_of(rule) == "in_force"


def test_a_publication_that_did_not_go_live_marks_the_change_failed(rule, settings):
    live.publish_rules(actor=ACTOR, reason="test")
    rule.for_duration = "10m"
    rule.save()
    settings.PROMETHEUS_URL = dead_url()
    live.publish_rules(actor=ACTOR, reason="test")
    rule.refresh_from_db()
    state = PublicationHistory.load().state_of(rule)
    assert state.status == "failed" and "cannot be reached" in state.text
    # The other rows are still in force: their part of the file did not change.
    assert status_of(AlertRule.objects.get(name="HighErrorRate")) == "in_force"


def test_a_disabled_row_is_in_force_once_it_is_out_of_the_file(rule):
    rule.enabled = False
    rule.save()
    assert status_of(rule) == "pending"
    live.publish_rules(actor=ACTOR, reason="test")
    state = PublicationHistory.load().state_of(rule)
    assert state.status == "in_force" and "out of Prometheus" in state.text


def test_without_a_rules_file_the_status_says_going_live_is_off(rule, settings):
    settings.PROMETHEUS_RULES_FILE = ""
    state = PublicationHistory.load().state_of(rule)
    assert state.status == "off" and "PROMETHEUS_RULES_FILE" in state.text
