"""Writes of the alert rule and SLO API that race each other (two staff, two scripts): each is
a clear answer, never a 500, and none undoes another (a change never brings back a row that
was deleted while it was being checked).

Schemathesis found these with two workers against gunicorn: a delete committed between a
write and its response, and two creates of one name both passing the uniqueness check."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from telemetry.alerting import rules_api
from telemetry.models import SLO, AlertingAuditEntry

pytestmark = pytest.mark.django_db

SLOS = "/api/telemetry/slos"
NEW_SLO = {
    "name": "checkout",
    "objective": "99.5",
    "window": "28d",
    "good_series": 'http_requests_total{code!~"5.."}',
    "total_series": "http_requests_total",
}


def test_a_row_deleted_after_the_write_committed_is_answered_as_written(
    staff_client, rules_file, monkeypatch
):
    slo = SLO.objects.create(**NEW_SLO)
    publish = rules_api._publish

    def deleted_meanwhile(request, reason):
        SLO.objects.filter(pk=slo.pk).delete()  # another client, between commit and answer
        return publish(request, reason)

    monkeypatch.setattr(rules_api, "_publish", deleted_meanwhile)
    response = staff_client.patch(f"{SLOS}/{slo.pk}", {"objective": "99.9"}, format="json")
    assert response.status_code == 200, response.content
    assert Decimal(response.json()["objective"]) == Decimal("99.9")
    assert response.json()["id"] == slo.pk
    assert AlertingAuditEntry.objects.filter(target_id=slo.pk, action="changed").exists()


def test_a_name_taken_after_the_check_is_the_checks_400(staff_client, rules_file, monkeypatch):
    field_errors = rules_api.SLOSerializer.field_errors
    calls = []

    def taken_meanwhile(serializer, candidate):
        errors = field_errors(serializer, candidate)
        if not calls:  # another client creates the same name right after the first check
            SLO.objects.create(**NEW_SLO)
        calls.append(errors)
        return errors

    monkeypatch.setattr(rules_api.SLOSerializer, "field_errors", taken_meanwhile)
    response = staff_client.post(SLOS, {**NEW_SLO, "description": "mine"}, format="json")
    assert response.status_code == 400, response.content
    assert "already exists" in response.json()["error"]["fields"]["name"][0]
    assert calls[0] == {} and len(calls) == 2  # passed once, then refused on the re-check
    assert not SLO.objects.filter(description="mine").exists()
    assert not AlertingAuditEntry.objects.filter(action="created", target_type="SLO").exists()


@pytest.mark.django_db(transaction=True)
def test_a_delete_waits_for_a_change_being_checked_and_the_row_stays_deleted(
    staff, rules_file, monkeypatch
):
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs two connections writing at once: the in-memory SQLite test database "
            "refuses the second (table locked) instead of making it wait; pass 2 runs it"
        )
    slo = SLO.objects.create(**NEW_SLO)
    checking, release = threading.Event(), threading.Event()
    field_errors = rules_api.SLOSerializer.field_errors

    def slow_check(serializer, candidate):
        checking.set()
        assert release.wait(10)
        return field_errors(serializer, candidate)

    monkeypatch.setattr(rules_api.SLOSerializer, "field_errors", slow_check)
    answers: dict[str, int] = {}

    def call(name: str, method: str, *args) -> None:
        client = APIClient()
        client.force_authenticate(staff)
        try:
            answers[name] = getattr(client, method)(*args, format="json").status_code
        finally:
            connections.close_all()

    change = threading.Thread(
        target=call, args=("change", "patch", f"{SLOS}/{slo.pk}", {"objective": "99.9"})
    )
    change.start()
    assert checking.wait(10)
    delete = threading.Thread(target=call, args=("delete", "delete", f"{SLOS}/{slo.pk}"))
    delete.start()
    delete.join(1.0)
    assert delete.is_alive(), "the delete did not wait for the change holding the row"
    release.set()
    change.join(20)
    delete.join(20)
    assert answers == {"change": 200, "delete": 200}
    assert not SLO.objects.filter(pk=slo.pk).exists()
    actions = AlertingAuditEntry.objects.filter(target_id=slo.pk, source="api").order_by("pk")
    assert [entry.action for entry in actions] == ["changed", "deleted"]
