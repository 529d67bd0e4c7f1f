"""The alerting settings read from the environment: bad values stop start-up naming the
variable; the rules file has no default (never the tracked reference export)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.paths import REPO_ROOT as ROOT

READ = "import django; django.setup(); from django.conf import settings as s; print({})"


def read_settings(expr: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PROMETHEUS_", "ALERT_"))}
    return subprocess.run(
        [sys.executable, "-c", READ.format(expr)],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "observability_site.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_by_default_nothing_is_published_and_never_into_the_tracked_file():
    done = read_settings("repr((s.PROMETHEUS_RULES_FILE, s.PROMETHEUS_URL, s.PROMETHEUS_TIMEOUT))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "('', '', 3.0)"


def test_the_former_name_is_still_read():
    done = read_settings("s.PROMETHEUS_RULES_FILE", ALERT_RULES_FILE="/srv/rules/x.yml")
    assert done.stdout.strip() == "/srv/rules/x.yml"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PROMETHEUS_RULES_FILE", "deploy/prometheus/rules/alert_rules.yml"),
        ("PROMETHEUS_URL", "127.0.0.1:9090"),
        ("PROMETHEUS_TIMEOUT", "soon"),
        ("ALERT_EVENT_RETENTION_DAYS", "-1"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(name, value):
    done = read_settings("1", **{name: value})
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr and name in done.stderr
