"""The SLO budget's pieces that need no Prometheus: the PromQL it sends, the burn-rate
thresholds, the chart, and "Prometheus unreachable" instead of figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from telemetry.alerting import budget
from telemetry.models import SLO
from telemetry.prometheus import slo_queries
from tests.telemetry.alerting.support import dead_url

pytestmark = pytest.mark.django_db


def seeded() -> SLO:
    return SLO.objects.get(name="api_availability")


def test_the_queries_are_the_generated_rules_error_ratio_against_the_budget():
    slo = seeded()
    assert slo_queries.error_budget(slo) == Decimal("0.005")
    assert slo_queries.error_ratio_expr(slo, "1h") == (
        "1 - (sum(rate(http_server_request_duration_seconds_count"
        '{http_response_status_code!~"5.."}[1h])) / '
        "sum(rate(http_server_request_duration_seconds_count[1h])))"
    )
    assert slo_queries.budget_remaining_expr(slo).endswith(") / 0.005")
    factors = [(w.severity, w.alert.long_window, w.factor) for w in slo_queries.burn_windows(slo)]
    assert factors == [
        ("critical", "1h", Decimal("14.40")),
        ("critical", "6h", Decimal("6.00")),
        ("warning", "1d", Decimal("3.00")),
        ("warning", "3d", Decimal("1.00")),
    ]


def test_a_burn_row_is_over_only_when_both_windows_are():
    row = budget.BurnRow("critical", "1h", "5m", Decimal("14.4"), 20.0, 3.0)
    assert not row.over
    row.short_burn = 15.0
    assert row.over
    row.long_burn = None
    assert not row.over


def test_the_chart_marks_the_full_and_the_spent_budget():
    start = datetime(2026, 11, 25, tzinfo=UTC)
    points = [(start + timedelta(hours=i), 1 - i * 0.3) for i in range(6)]
    svg = str(budget.budget_chart_svg(points))
    assert svg.startswith('<svg id="slo-budget-chart"') and svg.count(",") >= 6
    assert ">100%<" in svg and ">0%<" in svg and "last: -50.00%" in svg
    assert "No data" in str(budget.budget_chart_svg([]))


def test_prometheus_unreachable_is_said_not_guessed(settings):
    settings.PROMETHEUS_URL = dead_url()
    figures = budget.slo_budget(seeded())
    assert figures.problem.startswith("Prometheus unreachable") and figures.remaining is None
    settings.PROMETHEUS_URL = ""
    assert "PROMETHEUS_URL is not set" in budget.slo_budget(seeded()).problem


def test_the_slo_page_says_so_too(staff_session, settings):
    settings.PROMETHEUS_URL = dead_url()
    page = staff_session.get(f"/admin/telemetry/slo/{seeded().pk}/change/").content.decode()
    assert 'id="slo-budget-problem"' in page and "Prometheus unreachable" in page
