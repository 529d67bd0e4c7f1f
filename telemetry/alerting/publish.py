"""Which rules go to Prometheus: the rule file rendered from the enabled AlertRule and SLO
rows, and where the export writes it."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from django.conf import settings

from telemetry.models import SLO, AlertRule
from telemetry.prometheus.rule_files import alert_rule_groups, dump_rule_groups
from telemetry.prometheus.slo_rules import slo_rule_groups


def render_rule_file(
    rules: Iterable[AlertRule] | None = None, slos: Iterable[SLO] | None = None
) -> str:
    """The rule file for RULES and SLOS; by default every enabled row of both."""
    if rules is None:
        rules = AlertRule.objects.filter(enabled=True)
    if slos is None:
        slos = SLO.objects.filter(enabled=True)
    groups = alert_rule_groups(rules)
    for slo in sorted(slos, key=lambda s: s.name):
        groups += slo_rule_groups(slo)
    return dump_rule_groups(groups)


def default_rule_file_path() -> Path:
    """Where the export writes by default: ALERT_RULES_FILE (deploy/prometheus/rules/...)."""
    return Path(settings.ALERT_RULES_FILE)
