"""An alert event's admin page: beside the event, its rule (or SLO), its runbook rendered, and
example traces of its route while it fired when the stack can give them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from telemetry.models import SLO, AlertEvent, AlertRule

pytestmark = pytest.mark.django_db

STARTS = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)


def event(**fields) -> AlertEvent:
    defaults = {
        "fingerprint": "a1b2c3d4e5f60718",
        "starts_at": STARTS,
        "ends_at": STARTS + timedelta(minutes=7),
        "status": "resolved",
        "alertname": "HighErrorRate",
        "severity": "warning",
        "labels": {"alertname": "HighErrorRate", "http_route": "/api/process"},
        "annotations": {
            "summary": "High 5xx error rate on /api/process",
            "runbook_url": "http://127.0.0.1:8000/admin/telemetry/alertrule/runbooks/HighErrorRate",
        },
    }
    return AlertEvent.objects.create(**{**defaults, **fields})


def test_the_page_shows_the_rule_and_the_runbook_beside_the_event(staff_session):
    row = event()
    page = staff_session.get(f"/admin/telemetry/alertevent/{row.pk}/change/").content.decode()
    rule = AlertRule.objects.get(name="HighErrorRate")
    assert f'href="/admin/telemetry/alertrule/{rule.pk}/change/"' in page
    assert 'id="event-runbook"' in page and "<h2>What it means</h2>" in page
    assert row.annotations["runbook_url"] in page


def test_an_slo_alert_leads_to_its_slo(staff_session):
    row = event(
        alertname="SLOErrorBudgetBurn",
        labels={"alertname": "SLOErrorBudgetBurn", "slo": "api_availability"},
        annotations={},
    )
    page = staff_session.get(f"/admin/telemetry/alertevent/{row.pk}/change/").content.decode()
    slo = SLO.objects.get(name="api_availability")
    assert f'href="/admin/telemetry/slo/{slo.pk}/change/"' in page
    # No runbook_url on an old event: the SLO's own runbook is shown.
    assert "<h1>SLOErrorBudgetBurn</h1>" in page


def test_the_page_links_to_the_consoles_traces_of_its_route_while_it_fired(staff_session, settings):
    settings.PROMETHEUS_URL = ""  # no exemplars: the console's trace store is the source
    row = event()
    page = staff_session.get(f"/admin/telemetry/alertevent/{row.pk}/change/").content.decode()
    assert (
        'id="event-traces-link" href="/admin/telemetry/console/traces/?route=%2Fapi%2Fprocess'
        in page
    )
    assert "since=2026-11-25T16%3A00%3A00" in page


def test_an_alert_without_a_route_has_no_trace_link(staff_session):
    row = event(
        alertname="ServiceTargetDown",
        labels={"alertname": "ServiceTargetDown", "instance": "web:8000"},
        annotations={},
    )
    page = staff_session.get(f"/admin/telemetry/alertevent/{row.pk}/change/").content.decode()
    assert "this alert is not about a route" in page
    assert "<h1>ServiceTargetDown</h1>" in page  # from its rule's runbook field
