"""TELEMETRY_FAST_PATHS: an operator's switch to the stock components (for debugging, or to
benchmark the fast paths against them), read like every setting: a bad value stops the
process at start-up naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.paths import REPO_ROOT
from tests.telemetry.upstream.test_fast_paths_fall_back import (
    assert_served_on_the_stock_components,
    fast_path_lines,
)


def test_it_switches_to_the_stock_components_when_told(serve_in_child, otlp_receiver):
    run = serve_in_child("tested", TELEMETRY_FAST_PATHS="off")

    assert run.returncode == 0, run.output
    (line,) = fast_path_lines(run)
    assert line["level"] == "INFO"  # chosen, not a surprise
    assert line["message"] == (
        "telemetry fast paths off: TELEMETRY_FAST_PATHS=off; using the stock server-span "
        "middleware, span and log exporters and SDK histograms"
    )
    assert_served_on_the_stock_components(run, otlp_receiver)


def test_it_rejects_a_value_that_is_not_a_boolean(tmp_path):
    env = {**os.environ, "DATA_DIR": str(tmp_path), "TELEMETRY_FAST_PATHS": "sometimes"}
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode != 0
    assert "TELEMETRY_FAST_PATHS must be a boolean (true/false), got 'sometimes'" in done.stderr


def test_the_switch_decides_before_any_version_is_looked_at(settings, monkeypatch):
    from telemetry.pipeline import fast_paths
    from telemetry.upstream import compatibility

    settings.TELEMETRY_FAST_PATHS = False
    monkeypatch.setattr(compatibility, "check_compatibility", lambda: 1 / 0)

    assert fast_paths._decide() == fast_paths.FastPathDecision(False, "TELEMETRY_FAST_PATHS=off")
