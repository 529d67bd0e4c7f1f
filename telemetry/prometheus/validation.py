"""Checks run when an AlertRule or SLO is saved, with each error tied to the field it is about
(the admin shows it next to that field).

Local checks (names, durations, labels, uniqueness) always run; the PromQL expression and the
annotation templates are checked by promtool when it is on the machine. Without promtool
those are not checked, and `expression_check_notice()` says so.
"""

from __future__ import annotations

import re
from typing import Any

from telemetry.prometheus import promtool
from telemetry.prometheus.durations import is_duration, parse_duration
from telemetry.prometheus.rule_files import alert_rule_groups, dump_rule_groups
from telemetry.prometheus.slo_rules import MINIMUM_SLO_WINDOW, slo_rule_groups

# Prometheus' own grammar for label names; names starting with __ are reserved for internal use.
LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# Alert names become the alertname label value; keeping them metric-name-like keeps them
# usable in PromQL (ALERTS{alertname="..."}) and routes.
ALERT_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
MANAGED_LABELS = {"severity": "it comes from the severity field", "alertname": "it is the name"}
# A runbook is a page of the runbooks directory (a plain file name, so it can never name a
# path outside it) or a URL.
RUNBOOK_PAGE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
RUNBOOK_URL_RE = re.compile(r"^https?://\S+$")

FieldErrors = dict[str, list[str]]


def _add(errors: FieldErrors, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def label_errors(labels: Any, *, managed: dict[str, str] = MANAGED_LABELS) -> list[str]:
    """What is wrong with a labels mapping (JSON object of label name -> string value)."""
    if not isinstance(labels, dict):
        return ['Labels must be a JSON object, e.g. {"team": "backend"}.']
    problems = []
    for name, value in labels.items():
        if not LABEL_NAME_RE.match(name):
            problems.append(
                f"{name!r} is not a valid label name (letters, digits and '_', not starting "
                "with a digit)."
            )
        elif name.startswith("__"):
            problems.append(f"{name!r}: names starting with '__' are reserved by Prometheus.")
        elif name in managed:
            problems.append(f"{name!r} cannot be set here: {managed[name]}.")
        if not isinstance(value, str):
            problems.append(f"The value of {name!r} must be a string, got {value!r}.")
        elif "\x00" in value:
            problems.append(f"The value of {name!r} contains a NUL character.")
    return problems


def runbook_errors(runbook: str) -> list[str]:
    """What is wrong with a runbook: a page name (e.g. HighErrorRate) or an http(s) URL."""
    runbook = (runbook or "").strip()
    if not runbook or RUNBOOK_URL_RE.match(runbook) or RUNBOOK_PAGE_RE.match(runbook):
        return []
    return [
        "Give a runbook page name (letters, digits, '_', '-', '.', e.g. HighErrorRate: "
        "docs/runbooks/HighErrorRate.md) or an http(s):// URL."
    ]


def _text_errors(errors: FieldErrors, obj: Any, fields: tuple[str, ...]) -> None:
    # The admin's and the API's forms refuse NUL already; rows made in code get the same.
    for name in fields:
        if "\x00" in (getattr(obj, name, "") or ""):
            _add(errors, name, "NUL characters are not allowed.")


def _promtool_field(message: str) -> str:
    """Which form field a promtool error line is about."""
    if "could not parse expression" in message:
        return "expr"
    for field in ("summary", "description"):
        if f'annotation "{field}"' in message:
            return field
    if "label" in message:
        return "labels"
    return "__all__"


def _readable(message: str) -> str:
    # promtool prefixes each error with the group and rule of the temporary file it checked.
    return re.sub(r'^(\d+:\d+: )?group "[^"]*", rule \d+, "[^"]*": ', "", message)


def rule_field_errors(rule: Any) -> FieldErrors:
    """Every problem with an AlertRule, keyed by field name ("__all__" for the whole rule)."""
    errors: FieldErrors = {}
    if rule.name and not ALERT_NAME_RE.match(rule.name):
        _add(errors, "name", "Use letters, digits, '_' and ':' (not starting with a digit).")
    if rule.group and not rule.group.strip():
        _add(errors, "group", "The group needs a name.")
    if rule.for_duration and not is_duration(rule.for_duration):
        _add(
            errors, "for_duration", f"{rule.for_duration!r} is not a duration like 30s, 5m, 1h30m."
        )
    for problem in label_errors(rule.labels):
        _add(errors, "labels", problem)
    for problem in runbook_errors(getattr(rule, "runbook", "")):
        _add(errors, "runbook", problem)
    _text_errors(errors, rule, ("group", "name", "expr", "summary", "description"))
    if rule.group and rule.name and "group" not in errors and "name" not in errors:
        duplicates = type(rule).objects.filter(group=rule.group, name=rule.name)
        if rule.pk:
            duplicates = duplicates.exclude(pk=rule.pk)
        if duplicates.exists():
            _add(
                errors, "name", f"The group {rule.group!r} already has a rule named {rule.name!r}."
            )
    if errors or not rule.expr.strip():
        return errors  # promtool would only repeat these, less clearly
    outcome = promtool.check_rules_text(dump_rule_groups(alert_rule_groups([rule])))
    if outcome.checked and not outcome.ok:
        for message in outcome.errors or ["promtool rejected the rule."]:
            _add(errors, _promtool_field(message), _readable(message))
    return errors


def slo_field_errors(slo: Any) -> FieldErrors:
    """Every problem with an SLO, keyed by field name."""
    errors: FieldErrors = {}
    if slo.name and not LABEL_NAME_RE.match(slo.name):
        _add(errors, "name", "Use letters, digits and '_' (it becomes the slo label value).")
    if slo.objective is not None and not (0 < slo.objective < 100):
        _add(errors, "objective", "The objective is a percentage strictly between 0 and 100.")
    if not is_duration(slo.window or ""):
        _add(errors, "window", f"{slo.window!r} is not a duration like 28d or 30d.")
    else:
        try:
            if parse_duration(slo.window) < MINIMUM_SLO_WINDOW:
                _add(
                    errors,
                    "window",
                    "The window must be at least 7d: the slowest alert looks at 3d.",
                )
        except ValueError as exc:
            _add(errors, "window", str(exc))
    for problem in label_errors(slo.labels, managed={**MANAGED_LABELS, "slo": "it is the name"}):
        _add(errors, "labels", problem)
    for problem in runbook_errors(getattr(slo, "runbook", "")):
        _add(errors, "runbook", problem)
    _text_errors(errors, slo, ("name", "description", "good_series", "total_series"))
    if errors or not (slo.good_series.strip() and slo.total_series.strip()):
        return errors
    # Each series alone first, so an error lands on the field that holds it.
    probes = [
        {"record": f"slo_check:{field}", "expr": f"sum(rate({getattr(slo, field).strip()}[5m]))"}
        for field in ("good_series", "total_series")
    ]
    outcome = promtool.check_rules_text(dump_rule_groups([{"name": "check", "rules": probes}]))
    if outcome.checked and not outcome.ok:
        for message in outcome.errors:
            field = "good_series" if ", rule 1," in message else "total_series"
            if ", rule " not in message:
                field = "__all__"
            _add(errors, field, "Not a series selector PromQL accepts: " + _readable(message))
        return errors
    outcome = promtool.check_rules_text(dump_rule_groups(slo_rule_groups(slo)))
    if outcome.checked and not outcome.ok:
        for message in outcome.errors or ["promtool rejected the generated rules."]:
            _add(errors, "__all__", "The generated rules do not pass: " + _readable(message))
    return errors


def expression_check_notice() -> str | None:
    """A warning to show when expressions cannot be checked here (no promtool), else None."""
    return None if promtool.promtool_path() else promtool.NOT_CHECKED
