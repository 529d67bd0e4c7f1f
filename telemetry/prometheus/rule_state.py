"""What Prometheus's rules API (GET /api/v1/rules) says about each rule: loaded or not, its
health and last evaluation, its state (inactive, pending, firing) and since when.

Pure functions of the API's JSON, so the admin, the API and the publish confirmation read it
the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any

# Prometheus prints times with nanoseconds; Python reads at most microseconds.
_FRACTION = re.compile(r"(\.\d{6})\d+")
# Go's zero time: "never" (a rule not evaluated yet, an alert with no start).
_NEVER_YEAR = 1


def parse_time(text: str | None) -> datetime | None:
    """An RFC 3339 time of the API as an aware datetime; None for Go's zero time or none."""
    if not text:
        return None
    value = datetime.fromisoformat(_FRACTION.sub(r"\1", text).replace("Z", "+00:00"))
    if value.year == _NEVER_YEAR:
        return None
    return value.astimezone(UTC)


@dataclass
class ActiveAlert:
    labels: dict[str, str]
    state: str
    active_at: datetime | None
    value: str


@dataclass
class LoadedRule:
    """One rule as Prometheus holds it."""

    group: str
    file: str
    name: str
    kind: str  # "alerting" or "recording"
    query: str
    health: str  # "ok", "err" or "unknown" (not evaluated yet)
    last_error: str
    last_evaluation: datetime | None
    evaluation_seconds: float
    state: str = ""  # alerting rules: "inactive", "pending" or "firing"
    for_seconds: float = 0
    labels: dict[str, str] = field(default_factory=dict)
    alerts: list[ActiveAlert] = field(default_factory=list)

    @property
    def active_since(self) -> datetime | None:
        """When the oldest alert in the rule's current state became active."""
        times = [a.active_at for a in self.alerts if a.state == self.state and a.active_at]
        return min(times) if times else None


def _loaded_rule(group: dict[str, Any], rule: dict[str, Any]) -> LoadedRule:
    return LoadedRule(
        group=group["name"],
        file=group.get("file", ""),
        name=rule["name"],
        kind=rule.get("type", ""),
        query=rule.get("query", ""),
        health=rule.get("health", "unknown"),
        last_error=rule.get("lastError", "") or "",
        last_evaluation=parse_time(rule.get("lastEvaluation")),
        evaluation_seconds=float(rule.get("evaluationTime") or 0),
        state=rule.get("state", ""),
        for_seconds=float(rule.get("duration") or 0),
        labels=rule.get("labels") or {},
        alerts=[
            ActiveAlert(
                labels=alert.get("labels") or {},
                state=alert.get("state", ""),
                active_at=parse_time(alert.get("activeAt")),
                value=str(alert.get("value", "")),
            )
            for alert in rule.get("alerts") or []
        ],
    )


def same_file(loaded_path: str, our_path: str | None) -> bool:
    """Whether a group's file is ours. By file name: Prometheus may see the shared volume
    under another directory (in compose, /etc/prometheus/... versus the service's path)."""
    return our_path is None or PurePath(loaded_path).name == PurePath(our_path).name


def loaded_rules(
    groups: list[dict[str, Any]], *, rules_file: str | None = None
) -> dict[tuple[str, str], list[LoadedRule]]:
    """(group, rule name) -> the rules of that name Prometheus holds (an SLO's alert is there
    twice: page and ticket), from the groups of RULES_FILE only (every file when None)."""
    found: dict[tuple[str, str], list[LoadedRule]] = {}
    for group in groups:
        if not same_file(group.get("file", ""), rules_file):
            continue
        for rule in group.get("rules", []):
            found.setdefault((group["name"], rule["name"]), []).append(_loaded_rule(group, rule))
    return found


def differences(
    expected: list[dict[str, Any]], groups: list[dict[str, Any]], *, rules_file: str | None
) -> list[str]:
    """What Prometheus holds that differs from EXPECTED (rule-file groups), for the groups of
    RULES_FILE: groups missing or left over, and rules missing, extra or out of order."""
    loaded = {
        group["name"]: [rule["name"] for rule in group.get("rules", [])]
        for group in groups
        if same_file(group.get("file", ""), rules_file)
    }
    wanted = {
        group["name"]: [rule.get("alert") or rule.get("record") for rule in group["rules"]]
        for group in expected
    }
    problems = [f"group {name!r} is not loaded" for name in wanted if name not in loaded]
    problems += [f"group {name!r} is still loaded" for name in loaded if name not in wanted]
    problems += [
        f"group {name!r} holds {loaded[name]} instead of {rules}"
        for name, rules in wanted.items()
        if name in loaded and loaded[name] != rules
    ]
    return problems
