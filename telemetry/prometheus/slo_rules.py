"""SLO -> recording rules and multiwindow, multi-burn-rate alerts, the way Sloth and Pyrra do.

The SLI error ratio is recorded over each window the alerts need; an alert fires when the
budget burns fast over both a long and a short window (the short one makes it resolve soon
after the burn stops). Burn-rate factors follow the Google SRE workbook, derived from the
share of the budget each alert may consume, so windows other than 30d stay consistent:

    page   (critical): 2% of the budget in 1h (short 5m)  or 5% in 6h (short 30m)
    ticket (warning): 10% of the budget in 1d (short 2h) or 10% in 3d (short 6h)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from telemetry.prometheus.durations import parse_duration
from telemetry.prometheus.rule_files import runbook_url

ERROR_RATIO_RECORD = "slo:sli_error:ratio_rate{window}"
OBJECTIVE_RECORD = "slo:objective:ratio"
ERROR_BUDGET_RECORD = "slo:error_budget:ratio"


@dataclass(frozen=True)
class BurnAlert:
    severity: str
    long_window: str
    short_window: str
    budget_share: Decimal  # the share of the whole budget this alert lets burn in long_window


BURN_ALERTS = (
    BurnAlert("critical", "1h", "5m", Decimal("0.02")),
    BurnAlert("critical", "6h", "30m", Decimal("0.05")),
    BurnAlert("warning", "1d", "2h", Decimal("0.10")),
    BurnAlert("warning", "3d", "6h", Decimal("0.10")),
)
RECORDED_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
# The longest alert window must fit well inside the SLO window for the factors to mean much.
MINIMUM_SLO_WINDOW = timedelta(days=7)


def burn_factor(alert: BurnAlert, slo_window: str) -> Decimal:
    """How many times faster than "exactly on budget" the errors must come to fire."""
    ratio = Decimal(parse_duration(slo_window) / parse_duration(alert.long_window))
    return (alert.budget_share * ratio).quantize(Decimal("0.01"))


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f")


def slo_rule_groups(slo: Any, *, runbook_base_url: str = "") -> list[dict[str, Any]]:
    """The rule groups (recording and alerting) for one SLO, as rule-file data."""
    selector = {"slo": slo.name}
    objective = Decimal(slo.objective) / Decimal(100)
    budget = Decimal(1) - objective
    good, total = slo.good_series.strip(), slo.total_series.strip()
    percent = _number(Decimal(slo.objective))

    recording: list[dict[str, Any]] = [
        {
            "record": ERROR_RATIO_RECORD.format(window=window),
            "expr": (f"1 - (sum(rate({good}[{window}])) / sum(rate({total}[{window}])))"),
            "labels": selector,
        }
        for window in RECORDED_WINDOWS
    ]
    recording += [
        {"record": OBJECTIVE_RECORD, "expr": _number(objective), "labels": selector},
        {"record": ERROR_BUDGET_RECORD, "expr": _number(budget), "labels": selector},
    ]

    alerts: list[dict[str, Any]] = []
    for severity in ("critical", "warning"):
        clauses = []
        for alert in (a for a in BURN_ALERTS if a.severity == severity):
            threshold = _number(burn_factor(alert, slo.window) * budget)
            long_series = ERROR_RATIO_RECORD.format(window=alert.long_window)
            short_series = ERROR_RATIO_RECORD.format(window=alert.short_window)
            clauses.append(
                f'({long_series}{{slo="{slo.name}"}} > {threshold}'
                f' and {short_series}{{slo="{slo.name}"}} > {threshold})'
            )
        kind = "page" if severity == "critical" else "ticket"
        annotations = {
            "summary": f"SLO {slo.name} is burning its error budget too fast ({kind})",
            "description": (
                f"{slo.description or slo.name}: objective {percent}% over "
                f"{slo.window}; error ratio {{{{ $value | humanizePercentage }}}}."
            ),
        }
        if url := runbook_url(getattr(slo, "runbook", ""), runbook_base_url):
            annotations["runbook_url"] = url
        alerts.append(
            {
                "alert": "SLOErrorBudgetBurn",
                "expr": "\n  or ".join(clauses),
                "labels": {
                    **(slo.labels or {}),
                    "slo": slo.name,
                    "severity": severity,
                    "burn": kind,
                },
                "annotations": annotations,
            }
        )
    return [
        {"name": f"slo-{slo.name}-recordings", "rules": recording},
        {"name": f"slo-{slo.name}-alerts", "rules": alerts},
    ]
