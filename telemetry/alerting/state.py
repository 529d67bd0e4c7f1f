"""Each rule's and SLO's live state, read from Prometheus's rules API with a short timeout:
loaded or not, inactive / pending / firing and since when, last evaluation and error.

One call per page (the admin's list fetches once for every row); when Prometheus does not
answer within PROMETHEUS_TIMEOUT, the view says so instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from telemetry.alerting import publish
from telemetry.models import SLO, AlertRule
from telemetry.prometheus import server
from telemetry.prometheus.rule_state import ActiveAlert, LoadedRule, loaded_rules

_STATE_RANK = {"firing": 3, "pending": 2, "inactive": 1, "": 0}


def _clock(moment: datetime | None) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M:%S}" if moment else ""


@dataclass
class RuleState:
    """What Prometheus holds of one row (several rules for an SLO)."""

    reachable: bool
    loaded: bool
    problem: str = ""  # unreachable, not configured, not loaded and why
    state: str = ""  # worst of the row's alerting rules: firing > pending > inactive
    since: datetime | None = None
    health: str = ""
    last_error: str = ""
    last_evaluation: datetime | None = None
    evaluation_seconds: float = 0.0
    rules: list[LoadedRule] = field(default_factory=list)

    @property
    def alerts(self) -> list[ActiveAlert]:
        return [alert for rule in self.rules for alert in rule.alerts]

    @property
    def loaded_text(self) -> str:
        if not self.reachable or not self.loaded:
            return self.problem
        if self.health == "err":
            return f"loaded, evaluation failing: {self.last_error}"
        return "loaded" if self.health == "ok" else "loaded, not evaluated yet"

    @property
    def state_text(self) -> str:
        if not self.loaded:
            return "—"
        if self.state in ("firing", "pending") and self.since:
            return f"{self.state} since {_clock(self.since)}"
        return self.state or "recording"

    def as_dict(self) -> dict:
        return {
            "reachable": self.reachable,
            "loaded": self.loaded,
            "problem": self.problem,
            "state": self.state,
            "since": self.since.isoformat() if self.since else None,
            "health": self.health,
            "last_error": self.last_error,
            "last_evaluation": self.last_evaluation.isoformat() if self.last_evaluation else None,
            "evaluation_seconds": self.evaluation_seconds,
            "alerts": [
                {
                    "labels": alert.labels,
                    "state": alert.state,
                    "active_at": alert.active_at.isoformat() if alert.active_at else None,
                    "value": alert.value,
                }
                for alert in self.alerts
            ],
        }


def _combined(rules: list[LoadedRule]) -> RuleState:
    alerting = [rule for rule in rules if rule.kind == "alerting"]
    worst = max(alerting, key=lambda r: _STATE_RANK.get(r.state, 0), default=None)
    failing = [rule for rule in rules if rule.health == "err"]
    evaluated = [rule.last_evaluation for rule in rules if rule.last_evaluation]
    healths = {rule.health for rule in rules}
    return RuleState(
        reachable=True,
        loaded=True,
        state=worst.state if worst else "",
        since=worst.active_since if worst else None,
        health="err" if failing else ("ok" if healths == {"ok"} else "unknown"),
        last_error="; ".join(f"{r.name}: {r.last_error}" for r in failing),
        last_evaluation=max(evaluated) if evaluated else None,
        evaluation_seconds=sum(rule.evaluation_seconds for rule in rules),
        rules=rules,
    )


@dataclass
class PrometheusView:
    """The rules Prometheus holds, fetched once; a problem when it could not be asked."""

    url: str
    problem: str = ""
    rules: dict[tuple[str, str], list[LoadedRule]] = field(default_factory=dict)
    group_names: set[str] = field(default_factory=set)

    @property
    def reachable(self) -> bool:
        return not self.problem

    @classmethod
    def fetch(cls) -> PrometheusView:
        url = settings.PROMETHEUS_URL
        if not url:
            return cls(url, problem="PROMETHEUS_URL is not set: no Prometheus to ask")
        try:
            groups = server.rule_groups(url)
        except server.PrometheusError as exc:
            return cls(url, problem=f"Prometheus unreachable: {exc}")
        path = publish.published_rules_file()
        rules_file = str(path) if path else None
        rules = loaded_rules(groups, rules_file=rules_file)
        return cls(url, rules=rules, group_names={group for group, _ in rules})

    def _missing(self, row: AlertRule | SLO, what: str) -> RuleState:
        why = "disabled" if not row.enabled else "not in the rules Prometheus loaded"
        return RuleState(reachable=True, loaded=False, problem=f"{what} ({why})")

    def rule_state(self, rule: AlertRule) -> RuleState:
        """The live state of RULE (its group and name in our rules file)."""
        if not self.reachable:
            return RuleState(reachable=False, loaded=False, problem=self.problem)
        found = self.rules.get((rule.group, rule.name))
        return _combined(found) if found else self._missing(rule, "not loaded")

    def slo_state(self, slo: SLO) -> RuleState:
        """The live state of SLO's recording rules and burn-rate alerts together."""
        if not self.reachable:
            return RuleState(reachable=False, loaded=False, problem=self.problem)
        groups = (f"slo-{slo.name}-recordings", f"slo-{slo.name}-alerts")
        found = [rule for key, rules in self.rules.items() if key[0] in groups for rule in rules]
        missing = [group for group in groups if group not in self.group_names]
        if missing:
            return self._missing(slo, f"not loaded: {', '.join(missing)} missing")
        return _combined(found)
