"""Alert rules as Prometheus rule files: pure functions of rule-shaped objects.

The same rules always give the same bytes (groups and rules in name order), so the export in
deploy/ can be diffed and reviewed. Which rows are rendered is telemetry.alerting's business.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

import yaml


class AlertRuleLike(Protocol):
    """What rendering reads of an alert rule (telemetry.models.AlertRule has it all)."""

    group: str
    name: str
    expr: str
    for_duration: str
    severity: Any
    labels: Any
    summary: str
    description: str
    runbook: str  # a page name of the runbooks directory, a URL, or empty


# Each file says where it came from, so nobody edits a copy believing it is the source.
EXPORT_HEADER = (
    "# Written by `manage.py export_alert_rules --output` from the enabled AlertRule and SLO\n"
    "# rows. Edit the rules in the admin (or the API); hand edits here are overwritten.\n"
)
PUBLISHED_HEADER = (
    "# Published by the service from the enabled AlertRule and SLO rows, on every change made\n"
    "# in the admin, the API or `manage.py export_alert_rules`. Prometheus loads this file;\n"
    "# edit the rules in the admin, not here: the next change rewrites it.\n"
)


def download_header(who: str, when: str, what: str) -> str:
    """The header of a rule file downloaded from the admin."""
    return (
        f"# Downloaded from the admin by {who} at {when}: {what}.\n"
        "# A copy for review or another Prometheus; the service publishes its own rules into\n"
        "# PROMETHEUS_RULES_FILE by itself (docs/alerting.md).\n"
    )


def runbook_url(runbook: str, base_url: str) -> str | None:
    """The runbook_url annotation for RUNBOOK: a URL as it is, a page name appended to
    BASE_URL (where the admin serves the runbooks), None when there is none."""
    runbook = (runbook or "").strip()
    if not runbook:
        return None
    if runbook.startswith(("http://", "https://")):
        return runbook
    return f"{base_url.rstrip('/')}/{runbook}"


def rule_to_prometheus(rule: AlertRuleLike, *, runbook_base_url: str = "") -> dict[str, Any]:
    """One alert rule (an AlertRule row, or anything shaped like one) as a Prometheus
    alerting-rule mapping."""
    data: dict[str, Any] = {"alert": rule.name, "expr": rule.expr.strip()}
    if rule.for_duration and rule.for_duration not in ("0", "0s"):
        data["for"] = rule.for_duration
    data["labels"] = {**(rule.labels or {}), "severity": str(rule.severity)}
    annotations = {
        "summary": rule.summary,
        "description": rule.description,
        "runbook_url": runbook_url(getattr(rule, "runbook", ""), runbook_base_url),
    }
    annotations = {key: value for key, value in annotations.items() if value}
    if annotations:
        data["annotations"] = annotations
    return data


def alert_rule_groups(
    rules: Iterable[AlertRuleLike], *, runbook_base_url: str = ""
) -> list[dict[str, Any]]:
    """Rules grouped by their group name, groups and rules in name order."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for rule in sorted(rules, key=lambda r: (r.group, r.name)):
        groups.setdefault(rule.group, []).append(
            rule_to_prometheus(rule, runbook_base_url=runbook_base_url)
        )
    return [{"name": name, "rules": group_rules} for name, group_rules in groups.items()]


class _BlockStyleDumper(yaml.SafeDumper):
    """Multi-line strings (PromQL, descriptions) as readable | blocks, no &anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockStyleDumper.add_representer(str, _str_representer)


def dump_rule_groups(groups: list[dict[str, Any]], *, header: str = EXPORT_HEADER) -> str:
    """Rule-file YAML for GROUPS (an empty file still has `groups: []`, which Prometheus loads)."""
    return header + yaml.dump(
        {"groups": groups}, Dumper=_BlockStyleDumper, sort_keys=False, width=4096
    )
