"""PromQL for an SLO's page, the way Pyrra shows an objective: the error budget left over the
SLO window, the burn rate over each alert window, and the budget over time.

They read the SLO's own counters (not its recording rules), so the figures exist as soon as
the counters do, whether or not the SLO's rules are loaded, and mean exactly what the
generated alerts compare (telemetry.prometheus.slo_rules uses the same error ratio).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from telemetry.prometheus.slo_rules import BURN_ALERTS, BurnAlert, burn_factor


def error_budget(slo: Any) -> Decimal:
    """The share of events allowed to fail: 1 - objective (0.005 for 99.5%)."""
    return (Decimal(1) - Decimal(slo.objective) / Decimal(100)).normalize()


def error_ratio_expr(slo: Any, window: str) -> str:
    """The share of bad events over WINDOW (the generated recording rules' expression)."""
    good, total = slo.good_series.strip(), slo.total_series.strip()
    return f"1 - (sum(rate({good}[{window}])) / sum(rate({total}[{window}])))"


def budget_remaining_expr(slo: Any) -> str:
    """The share of the error budget left over the SLO window: 1 = untouched, 0 = spent,
    negative = overspent."""
    return f"1 - ({error_ratio_expr(slo, slo.window)}) / {format(error_budget(slo), 'f')}"


def burn_rate_expr(slo: Any, window: str) -> str:
    """How many times faster than "exactly on budget" errors came over WINDOW."""
    return f"({error_ratio_expr(slo, window)}) / {format(error_budget(slo), 'f')}"


def event_count_exprs(slo: Any) -> dict[str, str]:
    """Total and bad events over the SLO window."""
    good, total = slo.good_series.strip(), slo.total_series.strip()
    window = slo.window
    return {
        "total": f"sum(increase({total}[{window}]))",
        "bad": f"sum(increase({total}[{window}])) - sum(increase({good}[{window}]))",
    }


@dataclass(frozen=True)
class BurnWindow:
    """One multiwindow alert of the SLO: its windows and the burn rate that fires it."""

    alert: BurnAlert
    factor: Decimal

    @property
    def severity(self) -> str:
        return self.alert.severity


def burn_windows(slo: Any) -> list[BurnWindow]:
    """The SLO's burn-rate alerts with their thresholds, in the order they are generated."""
    return [BurnWindow(alert, burn_factor(alert, slo.window)) for alert in BURN_ALERTS]
