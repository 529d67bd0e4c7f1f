"""Migration telemetry/0007: the meta-monitoring rules seeded with their runbooks (and the
runbooks of the earlier seeded rules), the publication log and the audit trail; reversible,
and a seeded rule an operator edited is kept when it is reversed."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from telemetry.models import SLO, AlertingAuditEntry, AlertRule

m0007 = importlib.import_module("telemetry.migrations.0007_alerting_live")
SEEDED = {rule["name"] for rule in m0007.META_RULES}


@pytest.mark.django_db
def test_a_migrated_database_holds_the_meta_rules_with_their_runbooks():
    meta = AlertRule.objects.filter(group="meta_monitoring")
    assert {rule.name for rule in meta} == SEEDED
    assert all(rule.runbook == rule.name and rule.enabled for rule in meta)
    service = AlertRule.objects.filter(group="service_alerts")
    assert {rule.name: rule.runbook for rule in service} == m0007.SERVICE_RUNBOOKS
    assert SLO.objects.get(name="api_availability").runbook == "SLOErrorBudgetBurn"
    created = AlertingAuditEntry.objects.filter(source="migration", action="created")
    assert {entry.target_label for entry in created} == {f"meta_monitoring/{n}" for n in SEEDED}


@pytest.mark.django_db
def test_the_seed_is_idempotent_and_keeps_an_operators_edit():
    rule = AlertRule.objects.get(group="meta_monitoring", name="OldestQueuedJobTooOld")
    rule.expr = "max(processing_jobs_oldest_queued_age_seconds) > 900"
    rule.save()
    m0007.seed(apps, None)
    assert AlertRule.objects.filter(group="meta_monitoring").count() == len(SEEDED)
    assert AlertRule.objects.get(pk=rule.pk).expr.endswith("> 900")


@pytest.mark.django_db
def test_reversing_deletes_the_seeded_rules_but_an_edited_one(capsys):
    AlertRule.objects.filter(name="CollectorDown").update(expr='up{job="otel"} == 0')
    m0007.unseed(apps, None)
    assert list(
        AlertRule.objects.filter(group="meta_monitoring").values_list("name", flat=True)
    ) == ["CollectorDown"]
    assert "meta_monitoring/CollectorDown was edited; kept" in capsys.readouterr().out
