"""Which rules go to Prometheus: the rule file rendered from the enabled AlertRule and SLO
rows, where it is published, and a digest of each row's part of it (so a row can tell
whether its current version is the one in force)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings

from telemetry.models import SLO, AlertRule
from telemetry.prometheus.rule_files import (
    EXPORT_HEADER,
    alert_rule_groups,
    dump_rule_groups,
    rule_to_prometheus,
    runbook_url,
)
from telemetry.prometheus.slo_rules import slo_rule_groups


def _runbook_base() -> str:
    return settings.ALERT_RUNBOOK_BASE_URL


def rule_file_groups(
    rules: Iterable[AlertRule] | None = None, slos: Iterable[SLO] | None = None
) -> list[dict[str, Any]]:
    """The rule groups for RULES and SLOS; by default every enabled row of both."""
    if rules is None:
        rules = AlertRule.objects.filter(enabled=True)
    if slos is None:
        slos = SLO.objects.filter(enabled=True)
    groups = alert_rule_groups(rules, runbook_base_url=_runbook_base())
    for slo in sorted(slos, key=lambda s: s.name):
        groups += slo_rule_groups(slo, runbook_base_url=_runbook_base())
    return groups


def render_rule_file(
    rules: Iterable[AlertRule] | None = None,
    slos: Iterable[SLO] | None = None,
    *,
    header: str = EXPORT_HEADER,
) -> str:
    """The rule file for RULES and SLOS; by default every enabled row of both."""
    return dump_rule_groups(rule_file_groups(rules, slos), header=header)


def runbook_url_of(row: AlertRule | SLO) -> str | None:
    """The runbook_url annotation ROW's alerts carry."""
    return runbook_url(row.runbook, _runbook_base())


def published_rules_file() -> Path | None:
    """The file the service publishes into and Prometheus loads (PROMETHEUS_RULES_FILE);
    None when going live is not configured."""
    configured = settings.PROMETHEUS_RULES_FILE
    return Path(configured) if configured else None


def row_key(row: AlertRule | SLO) -> str:
    """The row's key in a publication's contents."""
    if isinstance(row, SLO):
        return f"slo:{row.name}"
    return f"rule:{row.group}/{row.name}"


def row_digest(row: AlertRule | SLO) -> str:
    """A digest of what ROW renders into the rule file: it changes with every edit that
    changes what Prometheus would evaluate or show."""
    if isinstance(row, SLO):
        data: Any = slo_rule_groups(row, runbook_base_url=_runbook_base())
    else:
        data = rule_to_prometheus(row, runbook_base_url=_runbook_base())
    text = yaml.safe_dump(data, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def contents_of(rules: Iterable[AlertRule], slos: Iterable[SLO]) -> dict[str, str]:
    """row key -> digest, for every row a rule file holds."""
    rows: list[AlertRule | SLO] = [*rules, *slos]
    return {row_key(row): row_digest(row) for row in rows}
