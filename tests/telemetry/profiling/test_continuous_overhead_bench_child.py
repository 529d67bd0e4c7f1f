"""bench/continuous_profiler_overhead.py's in-process child against a real migrated database."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench import continuous_profiler_overhead as bench
from tests.harness.servers import prepared_stack
from tests.paths import REPO_ROOT as ROOT

_PATH = ROOT / "bench" / "continuous_profiler_overhead.py"

pytestmark = pytest.mark.e2e


def test_its_in_process_child_measures_the_sampler(tmp_path):
    with prepared_stack(tmp_path) as stack:
        done = subprocess.run(
            [sys.executable, str(_PATH), "--child", bench.DEFAULT_MODE, "--seconds", "1",
             "--warmup", "20"],
            cwd=ROOT, env=bench.child_env(stack.env), capture_output=True, text=True,
            timeout=300,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = bench.parse_result(done.stdout)
    assert result["requests"] > 10 and result["samples"] > 3
    assert 0 < result["sampler_share"] < 0.5 and result["depth"] > 10
