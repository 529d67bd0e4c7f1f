"""Alert rules and SLOs are validated on save, each error next to the field it is about."""

from __future__ import annotations

import shutil

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from telemetry.models import SLO, AlertRule
from telemetry.prometheus import promtool
from telemetry.prometheus import validation as rule_validation

pytestmark = pytest.mark.django_db

GOOD_EXPR = (
    'sum(rate(http_server_request_duration_seconds_count{http_response_status_code=~"5.."}[5m]))'
    " > 1"
)


@pytest.fixture(autouse=True)
def _promtool_installed():
    # The expression checks need promtool; scripts/test.sh installs it, so CI never skips these.
    if shutil.which("promtool") is None:
        pytest.fail("promtool is not installed: run scripts/test.sh (it installs it) or apt-get")


def errors_of(instance) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        instance.full_clean()
    return caught.value.message_dict


def a_rule(**overrides) -> AlertRule:
    fields = {"group": "g", "name": "SomeAlert", "expr": GOOD_EXPR, "for_duration": "5m"}
    return AlertRule(**{**fields, **overrides})


def test_it_accepts_a_valid_rule():
    a_rule(labels={"team": "backend"}, description="{{ $value }} errors/s").full_clean()


def test_it_rejects_an_expression_promtool_cannot_parse():
    errors = errors_of(a_rule(expr="sum(rate(x[5m]) >"))
    assert list(errors) == ["expr"]
    assert "unclosed left parenthesis" in errors["expr"][0]


def test_it_rejects_a_broken_annotation_template():
    errors = errors_of(a_rule(description="{{ $value "))
    assert list(errors) == ["description"]
    assert "template" in errors["description"][0]


@pytest.mark.parametrize("duration", ["5 minutes", "5M", "1m5h", "-1m", "1.5m"])
def test_it_rejects_a_bad_for_duration(duration):
    assert "for_duration" in errors_of(a_rule(for_duration=duration))


@pytest.mark.parametrize("duration", ["", "0s", "30s", "1h30m", "2d"])
def test_it_accepts_prometheus_durations(duration):
    a_rule(for_duration=duration).full_clean()


@pytest.mark.parametrize(
    ("labels", "fragment"),
    [
        ({"bad-name": "x"}, "not a valid label name"),
        ({"1st": "x"}, "not a valid label name"),
        ({"__reserved": "x"}, "reserved"),
        ({"severity": "critical"}, "severity field"),
        ({"team": 3}, "must be a string"),
        (["team"], "JSON object"),
    ],
)
def test_it_rejects_bad_labels(labels, fragment):
    errors = errors_of(a_rule(labels=labels))
    assert list(errors) == ["labels"]
    assert fragment in " ".join(errors["labels"])


def test_it_rejects_a_name_prometheus_cannot_use():
    assert "name" in errors_of(a_rule(name="High error rate"))


def test_it_rejects_a_second_rule_with_the_same_name_in_a_group():
    a_rule().save()
    errors = errors_of(a_rule())
    assert list(errors) == ["name"]
    assert "already has a rule named" in errors["name"][0]
    a_rule(group="other").full_clean()  # the same name in another group is fine


def test_it_says_when_the_expression_was_not_checked(settings):
    settings.PROMTOOL_PATH = "/nonexistent/promtool"
    assert promtool.promtool_path() is None
    # Without promtool only the local checks run, and the notice says what was skipped.
    a_rule(expr="sum(rate(x[5m]) >").full_clean()
    notice = rule_validation.expression_check_notice()
    assert notice is not None and "NOT checked" in notice


def test_the_admin_shows_errors_next_to_the_fields(staff):
    client = Client()
    client.force_login(staff)
    response = client.post(
        "/admin/telemetry/alertrule/add/",
        {
            "group": "g",
            "name": "Bad",
            "enabled": "on",
            "severity": "warning",
            "expr": "rate(x[5m]",
            "for_duration": "five minutes",
            "labels": "{}",
            "summary": "",
            "description": "",
        },
    )
    assert response.status_code == 200  # the form again, not a redirect
    form = response.context["adminform"].form
    assert "for_duration" in form.errors
    assert not AlertRule.objects.filter(name="Bad").exists()
    # Fix the duration: promtool's complaint about the expression shows on its field.
    response = client.post(
        "/admin/telemetry/alertrule/add/",
        {
            "group": "g",
            "name": "Bad",
            "enabled": "on",
            "severity": "warning",
            "expr": "rate(x[5m]",
            "for_duration": "5m",
            "labels": "{}",
        },
    )
    form = response.context["adminform"].form
    assert list(form.errors) == ["expr"]
    assert b"could not parse expression" in response.content
    assert not AlertRule.objects.filter(name="Bad").exists()


def test_the_admin_saves_a_valid_rule(staff):
    client = Client()
    client.force_login(staff)
    response = client.post(
        "/admin/telemetry/alertrule/add/",
        {
            "group": "g",
            "name": "Good",
            "enabled": "on",
            "severity": "critical",
            "expr": GOOD_EXPR,
            "for_duration": "1m",
            "labels": '{"team": "backend"}',
            "summary": "s",
            "description": "d",
        },
    )
    assert response.status_code == 302
    rule = AlertRule.objects.get(group="g", name="Good")
    assert rule.labels == {"team": "backend"} and rule.severity == "critical"


def a_slo(**overrides) -> SLO:
    fields = {
        "name": "checkout",
        "objective": "99.9",
        "window": "30d",
        "good_series": 'requests_total{code!~"5.."}',
        "total_series": "requests_total",
    }
    return SLO(**{**fields, **overrides})


def test_it_accepts_a_valid_slo():
    a_slo().full_clean()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"objective": "100"}, "objective"),
        ({"objective": "0"}, "objective"),
        ({"window": "1d"}, "window"),
        ({"window": "a month"}, "window"),
        ({"name": "check-out"}, "name"),
        ({"good_series": "requests_total{code!~"}, "good_series"),
        ({"total_series": "sum("}, "total_series"),
        ({"labels": {"slo": "x"}}, "labels"),
    ],
)
def test_it_rejects_a_bad_slo(overrides, field):
    assert field in errors_of(a_slo(**overrides))
