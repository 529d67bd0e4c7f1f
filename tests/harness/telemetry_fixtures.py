"""The collector fixture of the end-to-end telemetry tests, and the traceparent they send."""

from __future__ import annotations

import secrets

import pytest
from opentelemetry.instrumentation.utils import suppress_instrumentation

from tests.harness.collector import Collector, running_collector


@pytest.fixture(name="collector")
def collector_fixture(tmp_path) -> Collector:
    """A running rotel collector. Request it before `stack`, so that it outlives the service
    processes and receives what they flush when they stop."""
    log_dir = tmp_path / "collector"
    log_dir.mkdir()
    # The test process itself may be instrumented (the in-process telemetry tests set it up
    # once per run): its httpx client must not replace the traceparent the test sends.
    with suppress_instrumentation(), running_collector(log_dir) as running:
        yield running


def new_traceparent() -> tuple[str, str, str]:
    """(trace_id, parent span id, traceparent header) for a fresh sampled trace."""
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, parent_id, f"00-{trace_id}-{parent_id}-01"
