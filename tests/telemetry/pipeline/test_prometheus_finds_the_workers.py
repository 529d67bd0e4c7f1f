"""A real Prometheus finds exactly the service's processes from their target files
(telemetry.pipeline.scrape_targets): the workers that run are up, none is "down" for a port
no process took, and a stopped worker is no longer a target (issue 22, item 4)."""

from __future__ import annotations

import time

import httpx
import pytest

from telemetry.pipeline import scrape_targets
from tests.harness.prometheus import OTEL_JOB, otel_scrape_env, start_prometheus
from tests.harness.servers import free_port_range

pytestmark = pytest.mark.e2e


def test_prometheus_scrapes_exactly_the_workers_that_run(stack, tmp_path):
    targets = tmp_path / "targets"
    ports = free_port_range(6)  # room for more processes than run: the old way, 2/6 up
    stack.env.update(otel_scrape_env(ports), **{scrape_targets.TARGETS_DIR_VARIABLE: str(targets)})
    base_url = stack.start_web(GUNICORN_WORKERS="2")
    prometheus = start_prometheus(
        stack, tmp_path / "prometheus", targets={}, otel_targets_dir=targets
    )

    def otel_targets() -> list[dict]:
        body = httpx.get(f"{prometheus}/api/v1/targets", timeout=5).json()
        return [t for t in body["data"]["activeTargets"] if t["labels"]["job"] == OTEL_JOB]

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        httpx.get(f"{base_url}/", timeout=10)
        found = otel_targets()
        if len(found) == 2 and all(t["health"] == "up" for t in found):
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"expected the 2 workers up, got {otel_targets()}\n{stack.logs()}")

    stack.processes[0].stop()  # gunicorn: its workers withdraw their targets as they exit
    deadline = time.monotonic() + 30
    while otel_targets() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert otel_targets() == [], "a stopped worker is still a target"
