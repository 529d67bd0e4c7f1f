"""bench/continuous_profiler_overhead.py: its parsers and summary on canned numbers, and its
in-process child against a real migrated database (a short run; no timing asserted)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from tests.harness.servers import ROOT, prepared_stack

_PATH = ROOT / "bench" / "continuous_profiler_overhead.py"
_spec = importlib.util.spec_from_file_location("bench_continuous_overhead", _PATH)
bench = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = bench
_spec.loader.exec_module(bench)


def test_it_reads_cachegrinds_summary_and_its_childs_result():
    assert bench.parse_refs("==7== Command: x\n==7== I   refs:      1,234,567\n") == 1_234_567
    with pytest.raises(ValueError):
        bench.parse_refs("==7== error\n")
    line = bench.RESULT + '{"cpu_ms": 0.5}'
    assert bench.parse_result(f'{{"level": "INFO"}}\n{line}\n') == {"cpu_ms": 0.5}


def test_the_summary_judges_the_default_rate_with_span_noting_added(capsys):
    default = bench.DEFAULT_MODE
    results = {
        "in-process": {"sampler_share": {default: 0.004}, "cpu_ratio": {}},
        "instructions": {"sampler_share": {default: 0.003}, "spans_share": 0.004},
    }
    assert bench.summarize(results) is True
    assert "0.80%, 0.70%" in capsys.readouterr().out
    results["instructions"]["spans_share"] = 0.007
    assert bench.summarize(results) is False


@pytest.mark.e2e
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
