"""Prometheus durations ("1h30m", "5m", "0s"), parsed the way Prometheus does."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = (
    ("y", 365 * 86400),
    ("w", 7 * 86400),
    ("d", 86400),
    ("h", 3600),
    ("m", 60),
    ("s", 1),
    ("ms", 0.001),
)
# The same grammar as prometheus/common/model.ParseDuration: units largest first, each once.
DURATION_RE = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)


def is_duration(text: str) -> bool:
    """True when Prometheus would accept TEXT as a duration."""
    return text == "0" or (bool(text) and DURATION_RE.match(text) is not None)


def parse_duration(text: str) -> timedelta:
    """TEXT as a timedelta; ValueError when Prometheus would reject it."""
    if text == "0":
        return timedelta(0)
    match = DURATION_RE.match(text) if text else None
    if match is None:
        raise ValueError(f"{text!r} is not a Prometheus duration (e.g. 30s, 5m, 1h30m)")
    seconds = sum(
        int(n) * factor for n, (_, factor) in zip(match.groups(), _UNITS, strict=True) if n
    )
    try:
        return timedelta(seconds=seconds)
    except OverflowError:  # Prometheus caps durations far below this, at about 292 years
        raise ValueError(f"{text!r} is longer than any duration Prometheus takes") from None
