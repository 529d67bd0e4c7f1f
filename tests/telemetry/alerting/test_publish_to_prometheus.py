"""Publishing the rules into a real Prometheus (Debian's, on 127.0.0.1): loaded and confirmed;
a disabled rule leaves; a file Prometheus refuses leaves the previous rules in force, on disk
too; a file Prometheus does not read is not called live."""

from __future__ import annotations

import pytest
import yaml

from telemetry.alerting import live
from telemetry.alerting.audit import Actor
from telemetry.models import (
    SLO,
    AlertingAuditEntry,
    AlertRule,
    AuditAction,
    PublicationOutcome,
    Source,
)
from telemetry.prometheus.rule_files import PUBLISHED_HEADER
from tests.harness.prometheus import query
from tests.telemetry.alerting.support import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

ACTOR = Actor(source=Source.COMMAND, label="test")


def publish():
    return live.publish_rules(actor=ACTOR, reason="test")


def test_it_publishes_the_enabled_rules_and_prometheus_confirms_them(live_prometheus):
    publication = publish()
    assert publication.outcome == PublicationOutcome.LIVE, publication.message
    text = live_prometheus.rules_file.read_text()
    assert text.startswith(PUBLISHED_HEADER) and text == publication.text
    names = live_prometheus.rule_names()
    assert {"HighErrorRate", "ServiceTargetDown", "SLOErrorBudgetBurn"} <= names
    assert "slo:sli_error:ratio_rate5m" in names
    assert publication.contents["rule:service_alerts/HighErrorRate"]
    groups = yaml.safe_load(text)["groups"]
    assert publication.rule_count == sum(len(group["rules"]) for group in groups)
    entry = AlertingAuditEntry.objects.get(publication=publication)
    assert entry.action == AuditAction.PUBLISHED and entry.actor_label == "test"
    assert f"loaded {publication.rule_count} rules" in publication.message


def test_a_disabled_rule_and_slo_leave_prometheus(live_prometheus):
    assert publish().outcome == PublicationOutcome.LIVE
    AlertRule.objects.filter(name="TrafficSpike").update(enabled=False)
    SLO.objects.update(enabled=False)
    publication = publish()
    assert publication.outcome == PublicationOutcome.LIVE, publication.message
    names = live_prometheus.rule_names()
    assert "TrafficSpike" not in names and "SLOErrorBudgetBurn" not in names
    assert "HighErrorRate" in names


def test_a_file_prometheus_refuses_leaves_the_previous_rules_in_force(live_prometheus, settings):
    good = publish()
    assert good.outcome == PublicationOutcome.LIVE
    # As on a host without promtool (the service's image): only Prometheus can say no.
    settings.PROMTOOL_PATH = "/nonexistent/promtool"
    AlertRule.objects.create(group="service_alerts", name="Broken", expr="rate(x[5m]")
    refused = publish()
    assert refused.outcome == PublicationOutcome.REFUSED
    assert "Broken" in refused.message and "parse" in refused.message
    # The good file is back on disk (a restart loads it) and still loaded.
    assert live_prometheus.rules_file.read_text() == good.text
    assert "Broken" not in live_prometheus.rule_names()
    assert "HighErrorRate" in live_prometheus.rule_names()
    # ...and Prometheus was reloaded on it, so it does not report a failed reload (its
    # self-scrape starts a few seconds after it does).
    (sample,), _ = wait_for(
        "Prometheus's own metrics",
        lambda: query(live_prometheus.url, "prometheus_config_last_reload_successful"),
    )
    assert sample["value"][1] == "1"
    # The operator's row is kept.
    assert AlertRule.objects.get(name="Broken").expr == "rate(x[5m]"


def test_with_promtool_a_bad_file_is_never_written(live_prometheus):
    good = publish()
    AlertRule.objects.create(group="service_alerts", name="Broken", expr="rate(x[5m]")
    invalid = publish()
    assert invalid.outcome == PublicationOutcome.INVALID
    assert "could not parse expression" in invalid.message
    assert live_prometheus.rules_file.read_text() == good.text


def test_the_first_file_refused_is_removed(live_prometheus, settings):
    settings.PROMTOOL_PATH = "/nonexistent/promtool"
    AlertRule.objects.create(group="service_alerts", name="Broken", expr="rate(x[5m]")
    refused = publish()
    assert refused.outcome == PublicationOutcome.REFUSED
    assert not live_prometheus.rules_file.exists()


def test_a_file_prometheus_does_not_read_is_not_called_live(live_prometheus, settings, tmp_path):
    settings.PROMETHEUS_RULES_FILE = str(tmp_path / "elsewhere" / "rules.yml")
    publication = publish()
    assert publication.outcome == PublicationOutcome.NOT_CONFIRMED
    assert "is not loaded" in publication.message and "rule_files" in publication.message
