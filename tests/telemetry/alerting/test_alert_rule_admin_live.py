"""The alert rule and SLO admin publishes on every change and says how it went: save, edit,
the list's enabled switches, the enable/disable actions, delete, the publish button; each
change is in the audit trail with who made it; Prometheus unreachable is said, never a 500,
and nothing typed is lost."""

from __future__ import annotations

import pytest
import yaml

from telemetry.models import (
    SLO,
    AlertingAuditEntry,
    AlertRule,
    AuditAction,
    PublicationOutcome,
    RulePublication,
)
from tests.telemetry.alerting.support import dead_url

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/telemetry/alertrule/add/"
LIST_URL = "/admin/telemetry/alertrule/"

FORM = {
    "group": "team_alerts",
    "name": "ManyNotFound",
    "enabled": "on",
    "severity": "warning",
    "expr": (
        "sum(rate(http_server_request_duration_seconds_count"
        '{http_response_status_code="404"}[5m])) > 1'
    ),
    "for_duration": "5m",
    "labels": '{"team": "backend"}',
    "summary": "Many 404s",
    "description": "{{ $value }} per second",
    "runbook": "",
    "_save": "Save",
}


def alerts_in(path) -> set[str]:
    groups = yaml.safe_load(path.read_text())["groups"]
    return {rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule}


def page_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_saving_a_rule_publishes_it_and_says_so(staff_session, staff, rules_file):
    response = staff_session.post(ADD_URL, FORM, follow=True)
    assert response.status_code == 200
    publication = RulePublication.objects.get()
    assert publication.outcome == PublicationOutcome.WRITTEN
    assert any(f"Publication #{publication.pk}" in text for text in page_messages(response))
    assert "ManyNotFound" in alerts_in(rules_file)
    assert publication.actor == staff and publication.actor_label == staff.email
    created = AlertingAuditEntry.objects.get(action=AuditAction.CREATED, source="admin")
    assert created.target_label == "team_alerts/ManyNotFound"
    assert created.actor_label == staff.email and created.source == "admin"


def test_an_edit_is_audited_field_by_field_and_published(staff_session, rules_file):
    rule = AlertRule.objects.get(name="HighErrorRate")
    form = {**FORM, "group": rule.group, "name": rule.name, "expr": rule.expr}
    form.update(for_duration="10m", labels="{}", summary=rule.summary, description=rule.description)
    form["runbook"] = rule.runbook
    staff_session.post(f"{LIST_URL}{rule.pk}/change/", form, follow=True)
    entry = AlertingAuditEntry.objects.get(action=AuditAction.CHANGED)
    assert entry.changes == {"for_duration": ["5m", "10m"]}
    assert "for: 10m" in rules_file.read_text()


def test_the_list_switches_publish_once_for_all_the_rows(staff_session, rules_file):
    rules = list(AlertRule.objects.filter(group="service_alerts"))
    form = {
        "form-TOTAL_FORMS": str(len(rules)),
        "form-INITIAL_FORMS": str(len(rules)),
        "_save": "Save",
    }
    for index, rule in enumerate(rules):
        form[f"form-{index}-id"] = str(rule.pk)
        if rule.name == "HighErrorRate":  # the only one left enabled
            form[f"form-{index}-enabled"] = "on"
    response = staff_session.post(f"{LIST_URL}?group__exact=service_alerts", form, follow=True)
    assert response.status_code == 200
    assert RulePublication.objects.count() == 1
    disabled = AlertingAuditEntry.objects.filter(action=AuditAction.DISABLED)
    assert {entry.target_label for entry in disabled} == {
        "service_alerts/HighLatency",
        "service_alerts/TrafficSpike",
    }
    alerts = alerts_in(rules_file)
    assert "HighErrorRate" in alerts and not {"HighLatency", "TrafficSpike"} & alerts


def test_the_disable_and_enable_actions(staff_session, rules_file):
    pks = list(AlertRule.objects.filter(group="meta_monitoring").values_list("pk", flat=True))
    staff_session.post(LIST_URL, {"action": "disable_selected", "_selected_action": pks})
    assert not AlertRule.objects.filter(group="meta_monitoring", enabled=True).exists()
    assert "ServiceTargetDown" not in alerts_in(rules_file)
    staff_session.post(LIST_URL, {"action": "enable_selected", "_selected_action": pks})
    assert "ServiceTargetDown" in alerts_in(rules_file)
    assert AlertingAuditEntry.objects.filter(action=AuditAction.ENABLED).count() == len(pks)
    assert RulePublication.objects.count() == 2


def test_deleting_a_rule_takes_it_out(staff_session, rules_file):
    rule = AlertRule.objects.get(name="TrafficSpike")
    staff_session.post(f"{LIST_URL}{rule.pk}/delete/", {"post": "yes"}, follow=True)
    assert not AlertRule.objects.filter(name="TrafficSpike").exists()
    assert "TrafficSpike" not in alerts_in(rules_file)
    entry = AlertingAuditEntry.objects.get(action=AuditAction.DELETED)
    assert entry.changes["expr"][0] == rule.expr  # what it held


def test_prometheus_unreachable_is_said_and_the_row_is_kept(staff_session, rules_file, settings):
    settings.PROMETHEUS_URL = dead_url()
    response = staff_session.post(ADD_URL, FORM, follow=True)
    assert response.status_code == 200
    texts = page_messages(response)
    assert any("Saved, but not in force" in t and "cannot be reached" in t for t in texts)
    assert AlertRule.objects.filter(name="ManyNotFound").exists()
    # The list says so on every row, and so does the rule's page.
    page = response.content.decode()
    assert page.count("Prometheus unreachable") >= AlertRule.objects.count()
    rule = AlertRule.objects.get(name="ManyNotFound")
    page = staff_session.get(f"{LIST_URL}{rule.pk}/change/").content.decode()
    assert 'data-reachable="no"' in page and "Prometheus unreachable" in page
    assert 'data-status="failed"' in page


def test_without_a_rules_file_the_admin_says_nothing_was_published(staff_session, settings):
    settings.PROMETHEUS_RULES_FILE = ""
    response = staff_session.post(ADD_URL, FORM, follow=True)
    assert any("Not published: PROMETHEUS_RULES_FILE" in t for t in page_messages(response))
    assert b"Publish the rules to Prometheus now" not in response.content


def test_the_publish_button(staff_session, rules_file):
    page = staff_session.get(LIST_URL).content.decode()
    assert 'id="publish-rules-now"' in page
    response = staff_session.post(f"{LIST_URL}publish/", follow=True)
    assert RulePublication.objects.get().reason == "published from the admin"
    assert rules_file.exists()
    assert response.redirect_chain[-1][0] == LIST_URL


def test_the_publish_button_needs_a_post(staff_session, rules_file):
    assert staff_session.get(f"{LIST_URL}publish/").status_code == 404
    assert not RulePublication.objects.exists()


def test_an_invalid_rule_is_refused_with_field_errors_and_nothing_published(
    staff_session, rules_file
):
    response = staff_session.post(ADD_URL, {**FORM, "expr": "sum(rate(x[5m])"})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "could not parse expression" in errors["expr"][0]
    assert not RulePublication.objects.exists() and not rules_file.exists()


def test_an_slo_change_publishes_its_rules(staff_session, rules_file):
    slo = SLO.objects.get(name="api_availability")
    pks = [slo.pk]
    staff_session.post(
        "/admin/telemetry/slo/", {"action": "disable_selected", "_selected_action": pks}
    )
    assert "SLOErrorBudgetBurn" not in alerts_in(rules_file)
    assert AlertingAuditEntry.objects.get(action=AuditAction.DISABLED).target_label == slo.name


def test_a_missing_runbook_page_is_warned_about(staff_session, rules_file):
    response = staff_session.post(ADD_URL, {**FORM, "runbook": "NoSuchPage"}, follow=True)
    assert any("no runbook page 'NoSuchPage'" in t for t in page_messages(response))
    assert AlertRule.objects.get(name="ManyNotFound").runbook == "NoSuchPage"
