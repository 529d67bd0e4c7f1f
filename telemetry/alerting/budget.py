"""An SLO's error budget, read from Prometheus the way Pyrra shows it: how much of the budget
is left over the SLO window, the burn rate over each alert window, and the budget over time.

Every figure of one page is evaluated at the same instant (`at`, whole seconds), so they agree
with each other and anyone can re-run the PromQL shown beside them and get the same numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from telemetry.models import SLO
from telemetry.prometheus import server, slo_queries
from telemetry.prometheus.durations import parse_duration

CHART_POINTS = 60
CHART_RANGES = ("1h", "1d", "7d")


@dataclass
class BurnRow:
    severity: str
    long_window: str
    short_window: str
    factor: Decimal
    long_burn: float | None
    short_burn: float | None

    @property
    def over(self) -> bool:
        """Both windows burn faster than the factor: the alert's condition holds."""
        return (
            self.long_burn is not None
            and self.short_burn is not None
            and self.long_burn > self.factor
            and self.short_burn > self.factor
        )


@dataclass
class SloBudget:
    at: datetime
    budget: Decimal
    problem: str = ""
    remaining: float | None = None  # share of the budget left: 1 untouched, <0 overspent
    error_ratio: float | None = None
    total_events: float | None = None
    bad_events: float | None = None
    burn_rows: list[BurnRow] = field(default_factory=list)
    chart_range: str = ""
    chart: list[tuple[datetime, float]] = field(default_factory=list)
    queries: dict[str, str] = field(default_factory=dict)

    @property
    def reachable(self) -> bool:
        return not self.problem

    @property
    def remaining_value(self) -> str:
        """The exact figure (for machines: the page's data attribute)."""
        return "" if self.remaining is None else repr(self.remaining)

    @property
    def at_timestamp(self) -> str:
        return f"{self.at.timestamp():.0f}"

    @property
    def budget_percent(self) -> str:
        return f"{format((self.budget * 100).normalize(), 'f')}%"

    @property
    def remaining_percent(self) -> str:
        return "no data" if self.remaining is None else f"{self.remaining * 100:.2f}%"

    def chart_svg(self) -> SafeString:
        return budget_chart_svg(self.chart)

    def as_dict(self) -> dict:
        return {
            "at": self.at.isoformat(),
            "problem": self.problem,
            "error_budget": format(self.budget, "f"),
            "budget_remaining": self.remaining,
            "error_ratio": self.error_ratio,
            "total_events": self.total_events,
            "bad_events": self.bad_events,
            "burn_rates": [
                {
                    "severity": row.severity,
                    "long_window": row.long_window,
                    "short_window": row.short_window,
                    "factor": float(row.factor),
                    "long_burn": row.long_burn,
                    "short_burn": row.short_burn,
                    "over": row.over,
                }
                for row in self.burn_rows
            ],
            "chart_range": self.chart_range,
            "chart": [[moment.isoformat(), value] for moment, value in self.chart],
            "queries": self.queries,
        }


def _number(result: list[dict]) -> float | None:
    if not result:
        return None
    value = server.sample_value(result[0])
    return None if math.isnan(value) or math.isinf(value) else value


def _evaluate(url: str, exprs: dict[str, str], at: datetime) -> dict[str, float | None]:
    """Each of EXPRS (single-sample expressions) evaluated at AT, in one query: every one
    tagged with its name (label "figure") and joined with `or`, so a page costs three round
    trips to Prometheus instead of a dozen."""
    joined = " or ".join(
        f'label_replace({expr}, "figure", "{name}", "", "")' for name, expr in exprs.items()
    )
    values: dict[str, float | None] = dict.fromkeys(exprs)
    for sample in server.instant_query(url, joined, at=at):
        values[sample["metric"].get("figure", "")] = _number([sample])
    return values


def chart_range_for(slo: SLO, requested: str | None) -> str:
    """The chart's range: one of CHART_RANGES, else the SLO's window."""
    return requested if requested in CHART_RANGES else slo.window


def slo_budget(
    slo: SLO, *, chart_range: str | None = None, at: datetime | None = None
) -> SloBudget:
    """The budget figures of SLO at AT (now), and its budget over CHART_RANGE."""
    at = (at or timezone.now()).replace(microsecond=0)
    figures = SloBudget(at=at, budget=slo_queries.error_budget(slo))
    url = settings.PROMETHEUS_URL
    if not url:
        figures.problem = "PROMETHEUS_URL is not set: no Prometheus to ask"
        return figures
    counts = slo_queries.event_count_exprs(slo)
    figures.queries = {
        "budget_remaining": slo_queries.budget_remaining_expr(slo),
        "error_ratio": slo_queries.error_ratio_expr(slo, slo.window),
        "total_events": counts["total"],
        "bad_events": counts["bad"],
    }
    try:
        values = _evaluate(url, figures.queries, at)
        figures.remaining = values.get("budget_remaining")
        figures.error_ratio = values.get("error_ratio")
        figures.total_events = values.get("total_events")
        figures.bad_events = values.get("bad_events")
        windows = {w.alert.long_window for w in slo_queries.burn_windows(slo)}
        windows |= {w.alert.short_window for w in slo_queries.burn_windows(slo)}
        burns = _evaluate(
            url,
            {w: slo_queries.burn_rate_expr(slo, w) for w in sorted(windows, key=parse_duration)},
            at,
        )
        for window in slo_queries.burn_windows(slo):
            figures.burn_rows.append(
                BurnRow(
                    severity=window.severity,
                    long_window=window.alert.long_window,
                    short_window=window.alert.short_window,
                    factor=window.factor,
                    long_burn=burns.get(window.alert.long_window),
                    short_burn=burns.get(window.alert.short_window),
                )
            )
        figures.chart_range = chart_range_for(slo, chart_range)
        span = parse_duration(figures.chart_range)
        step = max(span / CHART_POINTS, timedelta(seconds=1))
        series = server.range_query(
            url,
            figures.queries["budget_remaining"],
            start=at - span,
            end=at,
            step_seconds=step.total_seconds(),
        )
        for moment, value in series[0]["values"] if series else []:
            number = float(value)
            if not (math.isnan(number) or math.isinf(number)):
                figures.chart.append((datetime.fromtimestamp(float(moment), tz=at.tzinfo), number))
    except server.PrometheusError as exc:
        figures.problem = f"Prometheus unreachable: {exc}"
    return figures


def budget_chart_svg(points: list[tuple[datetime, float]], width: int = 600, height: int = 140):
    """A small line chart of the budget left over time (100% at the top, 0 marked), as SVG.

    Drawn here rather than with a charting library: one polyline of numbers needs no
    JavaScript on an admin page."""
    if not points:
        return mark_safe('<p class="help">No data in this range.</p>')
    pad = 24
    lowest = min(0.0, min(value for _, value in points))
    highest = max(1.0, max(value for _, value in points))
    first, last = points[0][0].timestamp(), points[-1][0].timestamp()
    span = (last - first) or 1.0

    def x(moment: datetime) -> float:
        return pad + (moment.timestamp() - first) / span * (width - 2 * pad)

    def y(value: float) -> float:
        return pad + (highest - value) / (highest - lowest) * (height - 2 * pad)

    line = " ".join(f"{x(m):.1f},{y(v):.1f}" for m, v in points)
    start, end = timezone.localtime(points[0][0]), timezone.localtime(points[-1][0])
    # Only numbers and times go into this markup, so it is safe as it is.
    return mark_safe(
        f'<svg id="slo-budget-chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" role="img" aria-label="error budget left over time">'
        f'<rect width="{width}" height="{height}" fill="#fff"/>'
        f'<line x1="{pad}" x2="{width - pad}" y1="{y(0):.1f}" y2="{y(0):.1f}" '
        'stroke="#ba2121" stroke-dasharray="4 3"/>'
        f'<line x1="{pad}" x2="{width - pad}" y1="{y(1):.1f}" y2="{y(1):.1f}" stroke="#ccc"/>'
        f'<polyline fill="none" stroke="#417690" stroke-width="2" points="{line}"/>'
        f'<text x="2" y="{y(1) + 4:.1f}" font-size="10">100%</text>'
        f'<text x="2" y="{y(0) + 4:.1f}" font-size="10">0%</text>'
        f'<text x="{pad}" y="{height - 4}" font-size="10">{start:%Y-%m-%d %H:%M}</text>'
        f'<text x="{width - pad}" y="{height - 4}" font-size="10" text-anchor="end">'
        f"{end:%Y-%m-%d %H:%M}</text>"
        f'<text x="{pad}" y="12" font-size="10">last: {points[-1][1] * 100:.2f}%</text>'
        "</svg>"
    )
