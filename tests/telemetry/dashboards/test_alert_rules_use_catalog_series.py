"""Every series the alert rules read is one the service produces (telemetry/dashboards/catalog.py),
or, for the meta-monitoring rules, one the stack around it produces (catalog.STACK: Prometheus,
the collector, Alertmanager): the committed export in deploy/prometheus/rules and a fresh
export of the seeded rows.

A rule on a name nobody emits never fires, and nothing says so: Prometheus evaluates it
happily to an empty result. That is how the rules outlived django-prometheus's request series.
"""

from __future__ import annotations

import importlib
import re

import pytest
import yaml

from telemetry.alerting import publish as alerting
from telemetry.dashboards import catalog as metric_catalog
from tests.paths import REPO_ROOT

RULE_FILE = REPO_ROOT / "deploy" / "prometheus" / "rules" / "alert_rules.yml"

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_IDENTIFIER = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
# A selector: a name directly followed by its label matchers or its range.
_SELECTED = re.compile(rf"(?<![\w:]){_IDENTIFIER}(?=\s*[{{\[])")
# The argument of a function that takes a series: rate(x[5m]), sum(x), absent(x) ...
_ARGUMENT = re.compile(rf"\b\w+\s*\(\s*({_IDENTIFIER})\s*(?=[)\[{{,]|offset\b)")
# Label lists: by (http_route, le), on (...), group_left (...) name labels, not series.
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool"}


def series_in(expr: str) -> set[str]:
    """The metric names EXPR reads: selectors with matchers or a range, function arguments,
    and (through the catalog's own parser) bare names."""
    text = _LABEL_LIST.sub("", _STRINGS.sub('""', expr))
    names = set(_SELECTED.findall(text)) | set(_ARGUMENT.findall(text))
    names |= metric_catalog.metric_names_in(expr)
    return {name for name in names if name not in _KEYWORDS}


def rules_of(text: str) -> list[dict]:
    return [rule for group in yaml.safe_load(text)["groups"] for rule in group["rules"]]


def unknown_series(text: str) -> list[str]:
    """'rule: name' for each series a rule reads that the service does not produce; the
    outputs of the file's own recording rules are not series of the service."""
    rules = rules_of(text)
    recorded = {rule["record"] for rule in rules if "record" in rule}
    known = metric_catalog.sample_names() | metric_catalog.stack_sample_names() | recorded
    return [
        f"{rule.get('alert') or rule['record']}: {name}"
        for rule in rules
        for name in sorted(series_in(rule["expr"]) - known)
    ]


def test_the_parser_finds_selectors_ranges_arguments_and_bare_names():
    expr = (
        'sum by (http_route, le) (rate(a_bucket{job="x_total",le=~"1|2"}[5m]))\n'
        "  / on (http_route) group_left sum(rate(b_count[5m] offset 1h)) > bool 2\n"
        "and c_total > 0 or absent(d_gauge) or e_seconds{} unless slo:x:ratio"
    )
    assert series_in(expr) == {
        "a_bucket",
        "b_count",
        "c_total",
        "d_gauge",
        "e_seconds",
        "slo:x:ratio",
    }


def test_it_would_have_caught_the_rules_on_django_prometheus_series():
    seeded = importlib.import_module("telemetry.migrations.0002_seed_alert_rules")
    names = set().union(*(series_in(rule["expr"]) for rule in seeded.RULES))
    assert names == {
        "django_http_responses_total_by_status_view_method_total",
        "django_http_requests_latency_seconds_by_view_method_bucket",
        "django_http_requests_total_by_view_transport_method_total",
    }
    assert not names & metric_catalog.sample_names()


def test_the_committed_rule_file_reads_only_catalog_series():
    text = RULE_FILE.read_text()
    assert unknown_series(text) == []
    read = set().union(*(series_in(rule["expr"]) for rule in rules_of(text)))
    assert {
        "http_server_request_duration_seconds_count",
        "http_server_request_duration_seconds_bucket",
    } <= read


@pytest.mark.django_db
def test_the_seeded_rows_read_only_catalog_series():
    assert unknown_series(alerting.render_rule_file()) == []


def test_every_recording_rule_a_rule_reads_is_in_the_file():
    rules = rules_of(RULE_FILE.read_text())
    recorded = {rule["record"] for rule in rules if "record" in rule}
    for rule in rules:
        colon_names = {name for name in series_in(rule["expr"]) if ":" in name}
        assert colon_names <= recorded, rule


def test_the_meta_monitoring_rules_read_the_stack_and_the_new_gauge():
    rules = [
        rule
        for group in yaml.safe_load(RULE_FILE.read_text())["groups"]
        if group["name"] == "meta_monitoring"
        for rule in group["rules"]
    ]
    read = set().union(*(series_in(rule["expr"]) for rule in rules))
    assert {"up", "target_info", "processing_jobs_oldest_queued_age_seconds"} <= read
    assert read & metric_catalog.stack_sample_names(sources=("OpenTelemetry Collector",))
    assert read & metric_catalog.stack_sample_names(sources=("Alertmanager",))
    # A stack series is not passed off as one of the service's.
    assert not metric_catalog.stack_sample_names() & metric_catalog.sample_names()
