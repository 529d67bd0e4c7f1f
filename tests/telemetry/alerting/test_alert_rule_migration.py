"""Migration telemetry/0005: the seeded rules and SLO move to the OpenTelemetry series, both
ways, and a row an operator edited is never overwritten."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from telemetry.models import SLO, AlertRule

pytestmark = pytest.mark.django_db

m0002 = importlib.import_module("telemetry.migrations.0002_seed_alert_rules")
m0005 = importlib.import_module("telemetry.migrations.0005_alert_rules_on_opentelemetry_series")
TEXT_FIELDS = ("expr", "summary", "description")
SLO_FIELDS = ("description", "good_series", "total_series")


def forward() -> None:
    m0005.to_opentelemetry(apps, None)


def backward() -> None:
    m0005.to_django_prometheus(apps, None)


def rule(name: str) -> AlertRule:
    return AlertRule.objects.get(group="service_alerts", name=name)


def rule_text(name: str) -> dict[str, str]:
    row = rule(name)
    return {field: getattr(row, field) for field in TEXT_FIELDS}


def slo_text() -> dict[str, str]:
    row = SLO.objects.get(name="api_availability")
    return {field: getattr(row, field) for field in SLO_FIELDS}


def seeded_by_0002(name: str) -> dict[str, str]:
    (seeded,) = (r for r in m0002.RULES if r["name"] == name)
    return {field: seeded[field] for field in TEXT_FIELDS}


def test_a_migrated_database_holds_the_opentelemetry_rules():
    for name in ("HighErrorRate", "HighLatency", "TrafficSpike"):
        assert rule_text(name) == m0005.OPENTELEMETRY_RULES[name]
    assert slo_text() == m0005.OPENTELEMETRY_SLOS["api_availability"]
    assert "http_server_request_duration_seconds_count" in rule("HighErrorRate").expr
    assert "{{ $labels.http_route }}" in rule("HighErrorRate").summary


def test_the_old_text_in_0005_is_exactly_what_0002_seeded():
    for seeded in m0002.RULES:
        assert m0005.DJANGO_PROMETHEUS_RULES[seeded["name"]] == seeded_by_0002(seeded["name"])
    (slo,) = m0002.SLOS
    assert m0005.DJANGO_PROMETHEUS_SLOS[slo["name"]] == {f: slo[f] for f in SLO_FIELDS}


def test_reverse_restores_the_0002_text_and_forward_moves_it_again():
    backward()
    for name in ("HighErrorRate", "HighLatency", "TrafficSpike"):
        assert rule_text(name) == seeded_by_0002(name)
    assert slo_text() == m0005.DJANGO_PROMETHEUS_SLOS["api_availability"]
    forward()
    for name in ("HighErrorRate", "HighLatency", "TrafficSpike"):
        assert rule_text(name) == m0005.OPENTELEMETRY_RULES[name]
    assert slo_text() == m0005.OPENTELEMETRY_SLOS["api_availability"]


def test_forward_leaves_an_edited_rule_alone_and_keeps_choices_outside_the_text(capsys):
    backward()
    # An operator raised the latency threshold and made HighErrorRate critical for 10m.
    AlertRule.objects.filter(name="HighLatency").update(
        expr=m0005.DJANGO_PROMETHEUS_RULES["HighLatency"]["expr"].replace("> 1", "> 2")
    )
    AlertRule.objects.filter(name="HighErrorRate").update(
        severity="critical", for_duration="10m", labels={"team": "api"}, enabled=False
    )
    SLO.objects.filter(name="api_availability").update(objective="99.9")
    forward()
    assert rule("HighLatency").expr.endswith("> 2")
    assert "django_http_requests_latency_seconds_by_view_method_bucket" in rule("HighLatency").expr
    assert rule_text("HighErrorRate") == m0005.OPENTELEMETRY_RULES["HighErrorRate"]
    error_rate = rule("HighErrorRate")
    assert (error_rate.severity, error_rate.for_duration) == ("critical", "10m")
    assert error_rate.labels == {"team": "api"} and error_rate.enabled is False
    assert rule_text("TrafficSpike") == m0005.OPENTELEMETRY_RULES["TrafficSpike"]
    slo = SLO.objects.get(name="api_availability")
    assert slo_text() == m0005.OPENTELEMETRY_SLOS["api_availability"]
    assert str(slo.objective) == "99.9000"
    assert "service_alerts/HighLatency was edited" in capsys.readouterr().out


def test_an_edited_summary_alone_keeps_the_whole_rule_as_it_is():
    backward()
    AlertRule.objects.filter(name="HighErrorRate").update(summary="5xx on {{ $labels.view }}!")
    forward()
    assert "django_http_responses_total_by_status_view_method_total" in rule("HighErrorRate").expr
    assert rule("HighErrorRate").summary == "5xx on {{ $labels.view }}!"


def test_forward_leaves_an_edited_slo_alone():
    backward()
    edited = 'django_http_responses_total_by_status_view_method_total{status!~"5..|429"}'
    SLO.objects.filter(name="api_availability").update(good_series=edited)
    forward()
    assert SLO.objects.get(name="api_availability").good_series == edited


def test_reverse_leaves_a_rule_edited_after_the_move_alone():
    edited = m0005.OPENTELEMETRY_RULES["HighErrorRate"]["expr"].replace("0.05", "0.1")
    AlertRule.objects.filter(name="HighErrorRate").update(expr=edited)
    backward()
    assert rule("HighErrorRate").expr == edited
    assert rule_text("HighLatency") == seeded_by_0002("HighLatency")


def test_line_endings_and_surrounding_blanks_from_the_admin_do_not_count_as_edits():
    # The admin's textarea sends CRLF and its form strips; saving a row unchanged is no edit.
    backward()
    crlf = m0005.DJANGO_PROMETHEUS_RULES["HighLatency"]["expr"].replace("\n", "\r\n")
    AlertRule.objects.filter(name="HighLatency").update(expr=crlf + "\r\n")
    forward()
    assert rule_text("HighLatency") == m0005.OPENTELEMETRY_RULES["HighLatency"]


def test_deleted_rows_stay_deleted():
    AlertRule.objects.filter(name="TrafficSpike").delete()
    SLO.objects.all().delete()
    backward()
    forward()
    assert not AlertRule.objects.filter(name="TrafficSpike").exists()
    assert not SLO.objects.exists()
    assert rule_text("HighLatency") == m0005.OPENTELEMETRY_RULES["HighLatency"]
