"""yappi's statistics read through its internal enumeration give the same table as its
public API (only faster), and a capture that stops deep inside helper functions leaves no
open call behind: the next capture's numbers do not include the time in between."""

from __future__ import annotations

import time

import pytest
import yappi

from telemetry.profiling import yappi_capture, yappi_stats
from telemetry.profiling.table import ProfileTable
from telemetry.profiling.table_filters import total_time

pytestmark = pytest.mark.skipif(
    not yappi_stats.fast_paths_available(), reason="this yappi lacks _yappi's entry points"
)


def busy(n: int) -> int:
    return sum(i * i for i in range(n))


def work() -> int:
    return busy(20_000) + len(sorted(range(5_000), key=lambda i: -i))


def test_the_fast_reader_gives_the_public_apis_table():
    yappi.clear_stats()
    yappi.set_clock_type("cpu")
    yappi.start(builtins=True)
    for _ in range(3):
        work()
    yappi.stop()
    try:
        fast = yappi_stats.read_table()
        public = ProfileTable.from_yappi(yappi.get_func_stats())
    finally:
        yappi.clear_stats()
    assert fast.functions and fast.functions == public.functions
    assert fast.edges == public.edges


def stop_deep_inside(capture, depth: int = 4):
    """A stop path several helper calls deep, as the middleware's or Celery's is."""
    if depth:
        return stop_deep_inside(capture, depth - 1)
    return yappi_capture.end(capture)


def test_a_capture_stopped_deep_inside_helpers_leaves_nothing_open():
    for _ in range(3):
        capture = yappi_capture.begin(run_id=7, clock="wall", memory=False)
        assert capture is not None
        work()
        stop_deep_inside(capture)
        time.sleep(0.2)  # the gap the next capture used to count
    run_id, table = yappi_capture.harvest()
    assert run_id == 7
    total = total_time(table)
    names = {key[2] for key in table.functions}
    assert "work" in names and "stop_deep_inside" in names
    assert "end" not in names and "begin" not in names
    assert total < 0.2, "the time between captures was counted"
    assert max(costs.total for costs in table.functions.values()) <= total + 1e-9
