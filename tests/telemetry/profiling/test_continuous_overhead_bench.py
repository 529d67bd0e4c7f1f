"""bench/continuous_profiler_overhead.py: its parsers and summary on canned numbers, and its
in-process child against a real migrated database (a short run; no timing asserted)."""

from __future__ import annotations

import pytest

from bench import continuous_profiler_overhead as bench
from bench.harness import instructions
from tests.paths import REPO_ROOT as ROOT

_PATH = ROOT / "bench" / "continuous_profiler_overhead.py"


def test_it_reads_cachegrinds_summary_and_its_childs_result():
    refs = "==7== Command: x\n==7== I   refs:      1,234,567\n"
    assert instructions.refs(refs) == 1_234_567
    with pytest.raises(ValueError):
        instructions.refs("==7== error\n")
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
