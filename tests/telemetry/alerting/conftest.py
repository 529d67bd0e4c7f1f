"""Fixtures of the alerting tests: a real Prometheus (Debian's) loading rules from a directory
of the test's own, with the service's settings pointed at it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.prometheus import PROMETHEUS, start_prometheus
from tests.harness.servers import Stack
from tests.telemetry.alerting.support import RunningPrometheus


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory) -> Iterator[RunningPrometheus]:
    """One Prometheus for the module, evaluating every *.yml of its rules directory."""
    if not Path(PROMETHEUS).exists() or shutil.which("promtool") is None:
        pytest.fail("Prometheus/promtool are not installed: run scripts/test.sh")
    directory = tmp_path_factory.mktemp("prometheus")
    stack = Stack(env={**os.environ}, log_dir=directory)
    try:
        url = start_prometheus(stack, directory, targets={}, rules_dir=directory / "live")
        yield RunningPrometheus(url, directory / "live")
    finally:
        stack.stop()


@pytest.fixture
def rules_file(settings, tmp_path) -> Path:
    """The service publishing into a rules file of the test's own, with no Prometheus."""
    path = tmp_path / "live" / "observability-site.rules.yml"
    settings.PROMETHEUS_RULES_FILE = str(path)
    settings.PROMETHEUS_URL = ""
    return path


@pytest.fixture
def live_prometheus(settings, prometheus: RunningPrometheus) -> RunningPrometheus:
    """The service publishing into the running Prometheus, starting from no rules file."""
    prometheus.rules_file.unlink(missing_ok=True)
    settings.PROMETHEUS_URL = prometheus.url
    settings.PROMETHEUS_RULES_FILE = str(prometheus.rules_file)
    return prometheus
