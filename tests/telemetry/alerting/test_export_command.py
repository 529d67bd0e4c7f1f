"""`manage.py export_alert_rules` never rewrites a tracked file by surprise: without --output it
publishes into PROMETHEUS_RULES_FILE (as a save in the admin does) and says what became of it,
and without that setting it refuses in one line; every run is in the audit trail."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from telemetry.models import AlertingAuditEntry, AuditAction, RulePublication
from telemetry.prometheus.rule_files import EXPORT_HEADER, PUBLISHED_HEADER
from tests.paths import REPO_ROOT as ROOT
from tests.telemetry.alerting.support import dead_url

pytestmark = pytest.mark.django_db

TRACKED = ROOT / "deploy" / "prometheus" / "rules" / "alert_rules.yml"


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("export_alert_rules", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_without_arguments_or_a_rules_file_it_refuses_and_touches_no_file(settings):
    settings.PROMETHEUS_RULES_FILE = ""
    before = (TRACKED.read_bytes(), TRACKED.stat().st_mtime_ns)
    with pytest.raises(CommandError) as refused:
        run()
    message = str(refused.value)
    assert "PROMETHEUS_RULES_FILE" in message and "--output" in message and "\n" not in message
    assert (TRACKED.read_bytes(), TRACKED.stat().st_mtime_ns) == before
    assert not RulePublication.objects.exists()


def test_without_arguments_it_publishes_into_the_rules_file(settings, tmp_path):
    path = tmp_path / "rules" / "observability-site.rules.yml"
    settings.PROMETHEUS_RULES_FILE = str(path)
    settings.PROMETHEUS_URL = ""
    _, err = run()
    publication = RulePublication.objects.get()
    assert f"publication #{publication.pk}: written" in err
    assert path.read_text().startswith(PUBLISHED_HEADER)
    entry = AlertingAuditEntry.objects.get(action=AuditAction.PUBLISHED)
    assert entry.source == "command" and "manage.py export_alert_rules" in entry.actor_label


def test_a_publish_that_does_not_go_live_fails_the_command_in_one_line(settings, tmp_path):
    settings.PROMETHEUS_RULES_FILE = str(tmp_path / "observability-site.rules.yml")
    settings.PROMETHEUS_URL = dead_url()
    with pytest.raises(CommandError) as failed:
        run()
    assert "Prometheus unreachable" in str(failed.value) and "\n" not in str(failed.value)


def test_reload_with_a_url_goes_with_output(settings, tmp_path):
    settings.PROMETHEUS_RULES_FILE = str(tmp_path / "observability-site.rules.yml")
    with pytest.raises(CommandError, match="--reload URL goes with --output"):
        run("--reload", "http://127.0.0.1:9")


def test_output_to_stdout_says_where_it_came_from_and_is_audited():
    out, _ = run("--output", "-")
    assert out.startswith(EXPORT_HEADER) and "HighErrorRate" in out
    entry = AlertingAuditEntry.objects.get(action=AuditAction.EXPORTED)
    assert entry.target_label == "stdout" and entry.detail == out


def test_the_tracked_reference_file_is_what_export_output_writes(tmp_path):
    # How deploy/prometheus/rules/alert_rules.yml is made (README, docs/alerting.md).
    out = tmp_path / "alert_rules.yml"
    run("--output", str(out))
    assert out.read_text() == TRACKED.read_text()
