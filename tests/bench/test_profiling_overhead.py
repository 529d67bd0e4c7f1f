"""bench/profiling_overhead.py: its parsers and ratio arithmetic on canned output (its
driver, against a real database, in test_profiling_overhead_driver.py)."""

from __future__ import annotations

import pytest

from bench import profiling_overhead as bench
from bench.harness.rounds import ratio_summary, rotated
from bench.harness.services import RESULT_PREFIX, parse_child_result

CACHEGRIND_STDERR = """==6517== Cachegrind, a high-precision tracing profiler
==6517== Copyright (C) 2002-2017, and GNU GPL'd, by Nicholas Nethercote et al.
==6517== Command: .venv/bin/python bench/profiling_overhead.py --child no\\ run
==6517==
--6517-- warning: simulated LL cache: line_size 64  assoc 1  total_size 268,435,456
{"level": "WARNING", "message": "I   refs: 5 (a log line that only looks like it)"}
==6517==
==6517== I   refs:      3,204,765,241
"""


def test_parse_cachegrind_refs_reads_the_summary_line_with_thousands_separators():
    assert bench.parse_cachegrind_refs(CACHEGRIND_STDERR) == 3_204_765_241


def test_parse_cachegrind_refs_refuses_output_without_a_summary():
    with pytest.raises(ValueError, match="I refs"):
        bench.parse_cachegrind_refs("==1== Command: python\n==1== error: killed\n")


def test_parse_child_result_finds_the_result_among_log_lines():
    stdout = (
        '{"level": "INFO", "message": "profiling run started"}\n'
        f'{RESULT_PREFIX}{{"mode": "no run", "cpu_ms": 0.5, "captures": 0}}\n'
        '{"level": "INFO", "message": "profiling run ended"}\n'
    )
    assert parse_child_result(stdout) == {"mode": "no run", "cpu_ms": 0.5, "captures": 0}
    with pytest.raises(ValueError, match="no result line"):
        parse_child_result('{"level": "INFO"}\n')


def test_rotated_puts_every_mode_first_once_over_as_many_rounds():
    names = list(bench.MODES)
    orders = [rotated(names, r) for r in range(len(names))]
    assert all(sorted(order) == sorted(names) for order in orders)
    assert [order[0] for order in orders] == names
    assert rotated(names, len(names)) == names


def test_ratio_summary_reads_costs_and_throughput_the_same_way():
    # CPU per request 1.0 -> 1.25 costs 20% of the throughput it allows; so does 100 -> 80 req/s.
    cost = ratio_summary([1.25, 1.0, 2.0], [1.0, 1.0, 1.0], cost=True)
    assert cost == {"median": 0.8, "min": 0.5, "max": 1.0, "n": 3}
    rate = ratio_summary([80.0, 90.0], [100.0, 100.0], cost=False)
    assert rate["median"] == pytest.approx(0.85)
    assert (rate["min"], rate["max"]) == (0.8, 0.9)
    # A window without requests (0) is left out rather than counted as free or infinite.
    assert ratio_summary([0.0, 2.0], [1.0, 1.0], cost=True)["n"] == 1
