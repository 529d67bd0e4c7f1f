"""The alert rule and SLO API (staff only): validated exactly as the admin validates, errors in
the one error shape with nothing stored, every write published (the response says how) and
audited, the live state and budget saying when Prometheus cannot be asked, and all of
it in the OpenAPI schema."""

from __future__ import annotations

import pytest
import yaml

from telemetry.models import SLO, AlertingAuditEntry, AlertRule, RulePublication
from tests.telemetry.alerting.support import dead_url

pytestmark = pytest.mark.django_db

RULES = "/api/telemetry/alert-rules"
SLOS = "/api/telemetry/slos"
NEW_RULE = {
    "group": "team_alerts",
    "name": "ManyNotFound",
    "expr": (
        "sum(rate(http_server_request_duration_seconds_count"
        '{http_response_status_code="404"}[5m])) > 1'
    ),
    "for_duration": "5m",
    "severity": "warning",
    "labels": {"team": "backend"},
    "summary": "Many 404s",
}


def alerts_in(path) -> set[str]:
    groups = yaml.safe_load(path.read_text())["groups"]
    return {rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule}


def test_it_is_for_staff_only(anon_client, user_client):
    assert anon_client.get(RULES).status_code == 401
    response = user_client.get(RULES)
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"
    assert user_client.post(RULES, NEW_RULE, format="json").status_code == 403
    assert not AlertRule.objects.filter(name="ManyNotFound").exists()


def test_it_lists_rules_with_their_publish_status(staff_client, rules_file):
    body = staff_client.get(RULES).json()
    assert body["count"] == AlertRule.objects.count()
    first = body["results"][0]
    assert first["publish_status"]["status"] == "pending"  # nothing published yet
    assert {"expr", "for_duration", "runbook", "enabled"} <= set(first)


def test_creating_a_rule_stores_publishes_and_audits_it(staff_client, staff, rules_file):
    response = staff_client.post(RULES, NEW_RULE, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    rule = AlertRule.objects.get(pk=body["id"])
    assert rule.labels == {"team": "backend"} and rule.group == "team_alerts"
    assert body["publication"]["outcome"] == "written"
    assert body["publish_status"]["status"] == "in_force"
    assert "ManyNotFound" in alerts_in(rules_file)
    entry = AlertingAuditEntry.objects.get(target_id=rule.pk, source="api")
    assert entry.action == "created" and entry.actor == staff


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"expr": "sum(rate(x[5m])"}, "expr", "could not parse expression"),
        ({"for_duration": "5 minutes"}, "for_duration", "not a duration"),
        ({"labels": {"severity": "page"}}, "labels", "cannot be set here"),
        ({"labels": ["team"]}, "labels", "JSON object"),
        ({"name": "Many NotFound"}, "name", "letters, digits"),
        ({"name": "HighErrorRate", "group": "service_alerts"}, "name", "already has a rule"),
        ({"runbook": "../etc/passwd"}, "runbook", "runbook page name"),
        ({"summary": "nul\x00byte"}, "summary", "Text with a NUL character cannot be stored"),
        ({"severity": "page"}, "severity", "not a valid choice"),
    ],
)
def test_bad_input_is_a_400_with_field_errors_and_nothing_stored(
    staff_client, rules_file, change, field, message
):
    before = AlertRule.objects.count()
    response = staff_client.post(RULES, {**NEW_RULE, **change}, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert any(message in text for text in error["fields"][field]), error
    assert AlertRule.objects.count() == before
    assert not RulePublication.objects.exists() and not rules_file.exists()


def test_a_change_is_published_and_audited_field_by_field(staff_client, rules_file):
    rule = AlertRule.objects.get(name="HighLatency")
    response = staff_client.patch(f"{RULES}/{rule.pk}", {"for_duration": "15m"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["for_duration"] == "15m"
    assert "for: 15m" in rules_file.read_text()
    entry = AlertingAuditEntry.objects.get(target_id=rule.pk, source="api")
    assert entry.action == "changed" and entry.changes == {"for_duration": ["5m", "15m"]}


def test_a_partial_change_is_validated_with_the_stored_row(staff_client, rules_file):
    rule = AlertRule.objects.get(name="HighLatency")
    response = staff_client.patch(f"{RULES}/{rule.pk}", {"name": "HighErrorRate"}, format="json")
    assert response.status_code == 400
    assert "already has a rule" in response.json()["error"]["fields"]["name"][0]


def test_disable_and_enable(staff_client, rules_file):
    rule = AlertRule.objects.get(name="TrafficSpike")
    response = staff_client.post(f"{RULES}/{rule.pk}/disable")
    assert response.status_code == 200 and response.json()["enabled"] is False
    assert "TrafficSpike" not in alerts_in(rules_file)
    staff_client.post(f"{RULES}/{rule.pk}/enable")
    assert "TrafficSpike" in alerts_in(rules_file)
    actions = AlertingAuditEntry.objects.filter(target_id=rule.pk, source="api")
    assert sorted(actions.values_list("action", flat=True)) == ["disabled", "enabled"]


def test_delete(staff_client, rules_file):
    rule = AlertRule.objects.get(name="TrafficSpike")
    response = staff_client.delete(f"{RULES}/{rule.pk}")
    assert response.status_code == 200
    assert response.json()["deleted"] == rule.pk
    assert response.json()["publication"]["outcome"] == "written"
    assert not AlertRule.objects.filter(pk=rule.pk).exists()
    assert "TrafficSpike" not in alerts_in(rules_file)
    assert staff_client.get(f"{RULES}/{rule.pk}").status_code == 404


def test_prometheus_unreachable_is_said_in_the_publication(staff_client, rules_file, settings):
    settings.PROMETHEUS_URL = dead_url()
    response = staff_client.post(RULES, NEW_RULE, format="json")
    assert response.status_code == 201  # stored: the publication says it is not live
    publication = response.json()["publication"]
    assert publication["outcome"] == "unreachable"
    assert "cannot be reached" in publication["message"]
    rule = AlertRule.objects.get(name="ManyNotFound")
    state = staff_client.get(f"{RULES}/{rule.pk}/state").json()
    assert state["reachable"] is False and state["loaded"] is False
    assert state["problem"].startswith("Prometheus unreachable")


def test_the_state_without_a_prometheus_says_why(staff_client, settings):
    settings.PROMETHEUS_URL = ""
    rule = AlertRule.objects.get(name="HighErrorRate")
    response = staff_client.get(f"{RULES}/{rule.pk}/state")
    assert response.status_code == 200
    assert response.json()["reachable"] is False
    assert "PROMETHEUS_URL" in response.json()["problem"]


def test_slos_are_validated_like_the_admin(staff_client, rules_file):
    response = staff_client.post(
        SLOS,
        {
            "name": "jobs",
            "objective": "99.9",
            "window": "3d",
            "good_series": 'processing_jobs_finished_total{outcome="succeeded"}',
            "total_series": "processing_jobs_finished_total",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "at least 7d" in response.json()["error"]["fields"]["window"][0]
    huge = staff_client.post(
        SLOS,
        {
            "name": "x",
            "objective": "99",
            "window": "9999999999999999d",
            "good_series": "a",
            "total_series": "b",
        },
        format="json",
    )
    assert (
        huge.status_code == 400 and "longer than any" in huge.json()["error"]["fields"]["window"][0]
    )
    taken = staff_client.post(
        SLOS,
        {
            "name": "api_availability",
            "objective": "99",
            "window": "30d",
            "good_series": "a",
            "total_series": "b",
        },
        format="json",
    )
    assert taken.status_code == 400 and "name" in taken.json()["error"]["fields"]
    assert SLO.objects.count() == 1


def test_an_slo_is_created_published_and_its_budget_needs_prometheus(staff_client, rules_file):
    response = staff_client.post(
        SLOS,
        {
            "name": "jobs",
            "objective": "99.9",
            "window": "28d",
            "good_series": 'processing_jobs_finished_total{outcome="succeeded"}',
            "total_series": "processing_jobs_finished_total",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert 'slo="jobs"' in rules_file.read_text()
    budget = staff_client.get(f"{SLOS}/{response.json()['id']}/budget").json()
    assert "PROMETHEUS_URL is not set" in budget["problem"]
    assert budget["budget_remaining"] is None and budget["error_budget"] == "0.001"


def test_publish_now_and_the_logs(staff_client, staff, rules_file):
    response = staff_client.post(f"{RULES}/publish")
    assert response.status_code == 200 and response.json()["outcome"] == "written"
    publications = staff_client.get("/api/telemetry/alert-rule-publications").json()
    assert publications["results"][0]["id"] == response.json()["id"]
    audit = staff_client.get("/api/telemetry/alerting-audit").json()["results"]
    assert audit[0]["action"] == "published" and audit[0]["actor_label"] == staff.email


def test_the_schema_documents_the_api_and_its_errors(staff_client):
    schema = yaml.safe_load(staff_client.get("/api/schema/").content)
    paths = schema["paths"]
    for path in (
        "/api/telemetry/alert-rules",
        "/api/telemetry/alert-rules/{row_id}",
        "/api/telemetry/alert-rules/{row_id}/disable",
        "/api/telemetry/alert-rules/{row_id}/state",
        "/api/telemetry/slos/{row_id}/budget",
        "/api/telemetry/alert-rules/publish",
        "/api/telemetry/alerting-audit",
    ):
        assert path in paths, path
    create = paths["/api/telemetry/alert-rules"]["post"]["responses"]
    assert create["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
    assert "201" in create
    error = schema["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["$ref"].endswith("/ErrorDetail")
