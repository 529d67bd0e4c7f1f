"""bench/profiling_overhead.py's in-process driver against a real migrated database: the
child processes it starts serve requests and capture what each mode asks for (no load, no
timing asserted)."""

from __future__ import annotations

import pytest

from bench import profiling_overhead as bench
from tests.harness.servers import prepared_stack

pytestmark = pytest.mark.e2e


def test_in_process_driver_captures_what_each_mode_asks_for(tmp_path):
    """The child serves real requests through the middleware: no run captures nothing,
    default sampling 1 in 50 (the first included), every request all of them."""
    with prepared_stack(tmp_path) as stack:
        env = bench.child_env(stack.env)
        captured = {}
        for mode in ("no run", "default sampling", "every request, wall"):
            result, instructions = bench.run_child(env, mode, requests=60, warmup=0, tick_every=25)
            assert instructions is None
            assert result["requests"] == 60
            assert result["ticks"] == 2
            assert result["cpu_ms"] > 0
            captured[mode] = result["captures"]
    assert captured == {"no run": 0, "default sampling": 2, "every request, wall": 60}
