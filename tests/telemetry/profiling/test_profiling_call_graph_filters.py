"""Reshaping a call graph keeps its arithmetic: the profiler's own functions leave with what
ran under them, its pass-through frame is spliced, import machinery is grouped or
excluded, and a bounded table keeps its total. Checked on tables built exactly from known
stacks, against the same stacks filtered by hand."""

from __future__ import annotations

import os
import random

import pytest

from telemetry.profiling import own_code
from telemetry.profiling.table import Costs, ProfileTable
from telemetry.profiling.table_filters import (
    bounded,
    total_time,
    with_import_frames,
    without_profiler,
)

PROFILING = os.path.dirname(os.path.abspath(own_code.__file__))
MIDDLEWARE_CALL = (f"{PROFILING}/middleware.py", 35, "ProfilingMiddleware.__call__")
FINISH = (f"{PROFILING}/agent.py", 80, "finish")
END = (f"{PROFILING}/yappi_capture.py", 150, "end")
LIVE_RUNS = (f"{PROFILING}/runs.py", 100, "live_runs")
HANDLER = ("django/core/handlers/base.py", 174, "_get_response")
VIEW = ("app/views.py", 10, "ItemApi.get")
QUERY = ("app/db.py", 20, "run_query")
RENDER = ("app/render.py", 30, "render_json")
NOW = ("time", 0, "time")
BOOT = "<frozen importlib._bootstrap>"
FIND_AND_LOAD = (BOOT, 1165, "_find_and_load")
LOAD_UNLOCKED = (BOOT, 1120, "_find_and_load_unlocked")
EXEC_MODULE = ("<frozen importlib._bootstrap_external>", 940, "exec_module")
MODULE_BODY = ("app/lazy.py", 1, "<module>")


def table_of(stacks: list[tuple[tuple, float]]) -> ProfileTable:
    """The call graph yappi would record for these stacks (root first, no recursion), each
    one call taking its weight of own time in its last function."""
    table = ProfileTable()
    for stack, weight in stacks:
        for depth, key in enumerate(stack):
            costs = table.functions.setdefault(key, Costs())
            costs.calls += 1
            costs.primitive_calls += 1
            costs.total += weight
            if depth == len(stack) - 1:
                costs.own += weight
            if depth:
                edge = table.edges.setdefault((stack[depth - 1], key), Costs())
                edge.calls += 1
                edge.primitive_calls += 1
                edge.total += weight
                if depth == len(stack) - 1:
                    edge.own += weight
    return table


def assert_adds_up(table: ProfileTable) -> None:
    total = total_time(table)
    for key, costs in table.functions.items():
        assert costs.own <= costs.total + 1e-9, key
        assert costs.total <= total + 1e-9, (key, costs.total, total)


def totals(table: ProfileTable) -> dict:
    return {key: round(costs.total, 9) for key, costs in table.functions.items()}


def owns(table: ProfileTable) -> dict:
    return {key: round(costs.own, 9) for key, costs in table.functions.items() if costs.own}


def test_it_removes_the_profilers_work_and_splices_its_pass_through_frame():
    stacks = [
        ((MIDDLEWARE_CALL, HANDLER, VIEW, QUERY), 0.6),
        ((MIDDLEWARE_CALL, HANDLER, VIEW, RENDER), 0.3),
        ((MIDDLEWARE_CALL, HANDLER, VIEW), 0.05),
        ((MIDDLEWARE_CALL, HANDLER, LIVE_RUNS, NOW), 0.02),  # the hot-path check
        ((MIDDLEWARE_CALL, FINISH, END), 0.4),  # the stop path, gap included
        ((MIDDLEWARE_CALL,), 0.01),
    ]
    cleaned = without_profiler(table_of(stacks))
    expected = table_of([(stack[1:], w) for stack, w in stacks[:3]])
    assert totals(cleaned) == totals(expected)
    assert owns(cleaned) == owns(expected)
    assert set(cleaned.edges) == set(expected.edges)
    assert_adds_up(cleaned)


def test_it_takes_what_ran_under_the_profiler_out_of_functions_reached_both_ways():
    # time.time() called by the view and by the profiler: only the view's part stays.
    stacks = [((VIEW, NOW), 0.2), ((VIEW, LIVE_RUNS, NOW), 0.1), ((VIEW,), 0.1)]
    cleaned = without_profiler(table_of(stacks))
    assert totals(cleaned) == {VIEW: 0.3, NOW: 0.2}
    assert owns(cleaned) == {VIEW: 0.1, NOW: 0.2}
    assert cleaned.functions[NOW].calls == 1


def test_it_groups_or_excludes_import_machinery():
    stacks = [
        ((VIEW, FIND_AND_LOAD, LOAD_UNLOCKED, EXEC_MODULE, MODULE_BODY), 0.5),
        ((VIEW, FIND_AND_LOAD, LOAD_UNLOCKED), 0.1),
        ((VIEW, QUERY), 0.4),
    ]
    table = table_of(stacks)
    grouped = with_import_frames(table, "group")
    entry = (BOOT, 1165, own_code.IMPORT_GROUP_LABEL)
    assert totals(grouped) == {VIEW: 1.0, entry: 0.6, MODULE_BODY: 0.5, QUERY: 0.4}
    assert owns(grouped) == {entry: 0.1, MODULE_BODY: 0.5, QUERY: 0.4}
    assert set(grouped.edges) == {(VIEW, entry), (entry, MODULE_BODY), (VIEW, QUERY)}
    excluded = with_import_frames(table, "exclude")
    assert totals(excluded) == {VIEW: 0.4, QUERY: 0.4}
    assert with_import_frames(table, "keep") is table
    for reshaped in (grouped, excluded):
        assert_adds_up(reshaped)


def test_bounding_keeps_the_total():
    stacks = [((VIEW, QUERY), 0.7), ((VIEW, RENDER, NOW), 0.05), ((VIEW,), 0.25)]
    table = table_of(stacks)
    kept = bounded(table, 2)
    assert set(kept.functions) == {VIEW, QUERY}
    assert abs(total_time(kept) - 1.0) < 1e-9
    assert abs(kept.functions[VIEW].own - 0.30) < 1e-9
    assert_adds_up(kept)


@pytest.mark.parametrize("seed", range(25))
def test_random_call_graphs_still_add_up(seed):
    rng = random.Random(seed)
    app = [(f"app/m{i}.py", i, f"f{i}") for i in range(12)]
    profiler = [MIDDLEWARE_CALL, FINISH, END, LIVE_RUNS]
    imports = [FIND_AND_LOAD, LOAD_UNLOCKED, EXEC_MODULE]
    stacks = []
    for _ in range(60):
        pool = app + profiler + imports
        depth = rng.randint(1, 7)
        stack = tuple(rng.sample(pool, depth))  # no function twice in a stack
        stacks.append((stack, rng.random()))
    table = table_of(stacks)
    assert_adds_up(table)
    for reshaped in (
        without_profiler(table),
        with_import_frames(table, "group"),
        with_import_frames(table, "exclude"),
        with_import_frames(without_profiler(table), "exclude"),
        bounded(table, 6),
    ):
        assert_adds_up(reshaped)
    cleaned = without_profiler(table)
    assert not [key for key in cleaned.functions if own_code.is_profiler_file(key[0])]
    # Only time can leave: nothing grows.
    for key, costs in cleaned.functions.items():
        assert costs.total <= table.functions[key].total + 1e-9
