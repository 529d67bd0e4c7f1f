"""Shared by the alerting tests (their fixtures are in conftest.py)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from tests.harness.prometheus import loaded_rules
from tests.harness.servers import free_port


@dataclass
class RunningPrometheus:
    url: str
    rules_dir: Path

    @property
    def rules_file(self) -> Path:
        return self.rules_dir / "observability-site.rules.yml"

    def rule_names(self) -> set[str]:
        return set(loaded_rules(self.url))


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
