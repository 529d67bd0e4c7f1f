"""Shared by the alerting tests: a real Prometheus (Debian's) loading rules from a directory
of the test's own, with the service's settings pointed at it."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness.prometheus import PROMETHEUS, loaded_rules, start_prometheus
from tests.harness.servers import Stack, free_port


@dataclass
class RunningPrometheus:
    url: str
    rules_dir: Path

    @property
    def rules_file(self) -> Path:
        return self.rules_dir / "observability-site.rules.yml"

    def rule_names(self) -> set[str]:
        return set(loaded_rules(self.url))


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
def live(settings, prometheus: RunningPrometheus) -> RunningPrometheus:
    """The service publishing into the running Prometheus, starting from no rules file."""
    prometheus.rules_file.unlink(missing_ok=True)
    settings.PROMETHEUS_URL = prometheus.url
    settings.PROMETHEUS_RULES_FILE = str(prometheus.rules_file)
    return prometheus


def dead_url() -> str:
    """An address nobody listens on: Prometheus "is down"."""
    return f"http://127.0.0.1:{free_port()}"


def wait_for(what: str, probe, timeout: float = 30.0):
    """Poll PROBE until it returns something truthy; return it with the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        result = probe()
        if result:
            return result, time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout}s")
