"""How the console writes times and durations (the templates get text, not raw microseconds:
the store's integers are exact, and the page should not depend on number localisation)."""

from __future__ import annotations

import datetime


def format_duration_us(value: int | float | None) -> str:
    """12 µs, 3.45 ms, 1.20 s, 2 min 5 s."""
    if value is None or value != value:  # None or nan
        return "-"
    if value < 1000:
        return f"{value:.0f} µs"
    if value < 1_000_000:
        return f"{value / 1000:.2f} ms"
    if value < 60_000_000:
        return f"{value / 1_000_000:.2f} s"
    minutes, seconds = divmod(value / 1_000_000, 60)
    return f"{minutes:.0f} min {seconds:.0f} s"


def format_time_us(value: int | None) -> str:
    """A UTC timestamp to the millisecond: 2026-12-01 09:19:40.123."""
    if value is None:
        return "-"
    moment = datetime.datetime.fromtimestamp(value / 1e6, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def percent(share: float) -> str:
    """A share as a CSS percentage with a dot, whatever the locale."""
    return f"{max(0.0, min(share, 1.0)) * 100:.3f}"
