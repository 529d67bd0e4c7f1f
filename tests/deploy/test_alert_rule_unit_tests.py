"""The promtool rule unit tests in deploy/prometheus/tests run against a fresh export from the
database, every seeded alert has a firing and a quiet case there, and the Prometheus
configuration in deploy/ passes promtool's checks."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml
from django.core.management import call_command

from telemetry.prometheus import promtool
from tests.paths import REPO_ROOT

pytestmark = pytest.mark.django_db
DEPLOY = REPO_ROOT / "deploy" / "prometheus"


@pytest.fixture(autouse=True)
def _promtool_installed():
    if shutil.which("promtool") is None:
        pytest.fail("promtool is not installed: run scripts/test.sh (it installs it) or apt-get")


UNIT_TESTS = ("alert_rules_test.yml", "meta_alerts_test.yml")


def run_unit_tests(tmp_path, name: str):
    # Same layout as deploy/prometheus, so the test file's ../rules/ path finds the export.
    (tmp_path / "tests").mkdir(exist_ok=True)
    shutil.copy(DEPLOY / "tests" / name, tmp_path / "tests")
    call_command("export_alert_rules", "--output", str(tmp_path / "rules" / "alert_rules.yml"))
    return promtool.run_rule_unit_tests(tmp_path / "tests" / name)


@pytest.mark.parametrize("name", UNIT_TESTS)
def test_the_seeded_rules_pass_their_unit_tests(tmp_path, name):
    outcome = run_unit_tests(tmp_path, name)
    assert outcome.ok, outcome.output
    assert "SUCCESS" in outcome.output


def test_every_seeded_alert_has_a_firing_and_a_quiet_case(tmp_path):
    call_command("export_alert_rules", "--output", str(tmp_path / "rules.yml"))
    groups = yaml.safe_load((tmp_path / "rules.yml").read_text())["groups"]
    alerts = {rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule}
    firing, quiet = set(), set()
    for name in UNIT_TESTS:
        for case in yaml.safe_load((DEPLOY / "tests" / name).read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check["exp_alerts"] else quiet).add(check["alertname"])
    assert len(alerts) >= 17
    assert alerts - firing == set()
    assert alerts - quiet == set()


def test_the_unit_tests_catch_a_changed_meta_rule(tmp_path):
    from telemetry.models import AlertRule

    rule = AlertRule.objects.get(group="meta_monitoring", name="OldestQueuedJobTooOld")
    rule.expr = rule.expr.replace("> 300", "> 3000")
    rule.save()
    outcome = run_unit_tests(tmp_path, "meta_alerts_test.yml")
    assert not outcome.ok and "OldestQueuedJobTooOld" in outcome.output


def test_the_unit_tests_catch_a_changed_threshold(tmp_path):
    from telemetry.models import AlertRule

    rule = AlertRule.objects.get(name="HighErrorRate")
    rule.expr = rule.expr.replace("> 0.05", "> 0.5")
    rule.save()
    (tmp_path / "tests").mkdir()
    shutil.copy(DEPLOY / "tests" / "alert_rules_test.yml", tmp_path / "tests")
    call_command("export_alert_rules", "--output", str(tmp_path / "rules" / "alert_rules.yml"))
    outcome = promtool.run_rule_unit_tests(tmp_path / "tests" / "alert_rules_test.yml")
    assert not outcome.ok and "HighErrorRate" in outcome.output


def test_the_prometheus_configuration_is_valid(tmp_path):
    # The same layout as the container's /etc/prometheus: the config, the rules where its
    # rule_files look (the service publishes there; here the reference export stands in) and
    # the scrape token file it names (promtool checks that the file exists).
    shutil.copy(DEPLOY / "prometheus.yml", tmp_path)
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    (pattern,) = config["rule_files"]
    rules = tmp_path / pattern.replace("*", "observability-site.rules")
    rules.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(DEPLOY / "rules" / "alert_rules.yml", rules)
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "metrics_token").write_text("not-a-real-token\n")
    done = subprocess.run(
        ["promtool", "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert rules.name in done.stdout  # the rule files were found and checked too
