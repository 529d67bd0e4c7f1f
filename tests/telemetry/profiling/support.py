"""Helpers for the in-process profiling tests (their state is reset by conftest.py)."""

from __future__ import annotations

from telemetry.profiling import runs as profiling


def start_run(**fields):
    """A running run, already in this process's snapshot."""
    fields.setdefault("target", "requests")
    fields.setdefault("sample_every", 1)
    run = profiling.run_start(**fields)
    profiling.active_runs.reload()
    return run
