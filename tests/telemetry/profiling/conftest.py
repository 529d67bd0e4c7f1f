"""Every profiling test starts and ends with this process's profiling state emptied: the
control poller paused, a version store of the test's own, no active run, no aggregates."""

from __future__ import annotations

import pytest

from telemetry.control import channels as control
from telemetry.control.version_store import FileVersionStore
from telemetry.profiling import agent as profiling_agent
from telemetry.profiling import runs as profiling
from telemetry.profiling import yappi_capture as profiling_capture
from telemetry.profiling.continuous import lifecycle as continuous_lifecycle


def forget_process_state() -> None:
    continuous_lifecycle.stop_for_tests()
    profiling.active_runs.reset(())
    profiling_agent._aggregates.clear()
    profiling_agent._sample_counters.clear()
    profiling_agent._process_capture = None
    if profiling_capture.pending_run_id() is not None:
        profiling_capture.harvest()


@pytest.fixture(autouse=True)
def profiling_state(settings, tmp_path):
    # The poller thread (started by the middleware) must not poll while a test steps the
    # agent by hand; tests call control.poll_once() / profiling_agent.tick() themselves.
    settings.TELEMETRY_CONTROL_ENABLED = False
    control.wait_for_poll_under_way()
    control.reset_for_tests(FileVersionStore(tmp_path / "control"))
    forget_process_state()
    yield
    forget_process_state()
    control.reset_for_tests(None)
