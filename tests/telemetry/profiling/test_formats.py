"""The export formats and the picture, from a table with known numbers: pstat loads with
pstats, callgrind reads with gprof2dot, and the icicle SVG is well-formed, proportional and
names the hottest function."""

from __future__ import annotations

import pstats
import subprocess
import sys
import xml.etree.ElementTree as ET

from telemetry.profiling.export_formats import to_callgrind, to_pstats
from telemetry.profiling.flamegraph import WIDTH, render_svg
from telemetry.profiling.table import Costs, ProfileTable
from telemetry.profiling.table_filters import bounded, total_time

VIEW = ("app/views.py", 10, "ItemApi.get")
QUERY = ("app/db.py", 20, "run_query")
RENDER = ("app/render.py", 30, "render_json")
SVG = "{http://www.w3.org/2000/svg}"


def known_table() -> ProfileTable:
    table = ProfileTable()
    table.functions = {
        VIEW: Costs(2, 2, 0.010, 1.000),
        QUERY: Costs(4, 4, 0.700, 0.700),
        RENDER: Costs(2, 2, 0.290, 0.290),
    }
    table.edges = {
        (VIEW, QUERY): Costs(4, 4, 0.700, 0.700),
        (VIEW, RENDER): Costs(2, 2, 0.290, 0.290),
    }
    return table


def test_pstat_loads_with_the_numbers_and_callers(tmp_path):
    path = tmp_path / "t.pstat"
    path.write_bytes(to_pstats(known_table()))
    stats = pstats.Stats(str(path))
    primitive, calls, own, total, callers = stats.stats[QUERY]
    assert (primitive, calls, own, total) == (4, 4, 0.7, 0.7)
    assert VIEW in callers
    assert abs(stats.total_tt - 1.0) < 1e-9


def test_callgrind_reads_with_gprof2dot(tmp_path):
    path = tmp_path / "callgrind.out.t"
    path.write_text(to_callgrind(known_table()))
    done = subprocess.run(
        [sys.executable, "-m", "gprof2dot", "-f", "callgrind", "-n", "0", "-e", "0", str(path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "run_query" in done.stdout and "ItemApi.get" in done.stdout
    assert "ItemApi.get" in path.read_text() and "calls=4 20" in path.read_text()


def test_the_icicle_is_proportional_and_names_the_hottest_function():
    svg = render_svg(known_table(), title="run 1")
    root = ET.fromstring(svg)  # well-formed XML
    frames = {
        g.get("data-function"): float(g.find(f"{SVG}rect").get("width"))
        for g in root.iter(f"{SVG}g")
    }
    view, query, render = (frames[k] for k in (
        "ItemApi.get (app/views.py:10)", "run_query (app/db.py:20)",
        "render_json (app/render.py:30)",
    ))  # fmt: skip
    assert abs(view - WIDTH) < 1
    assert abs(query / view - 0.7) < 0.01 and abs(render / view - 0.29) < 0.01
    hottest = next(t for t in root.iter(f"{SVG}text") if t.get("class") == "hottest")
    assert "run_query" in hottest.text


def test_an_empty_table_renders_an_empty_picture():
    root = ET.fromstring(render_svg(ProfileTable(), title="nothing"))
    assert "no captures yet" in ET.tostring(root, encoding="unicode")


def test_a_table_is_bounded_to_its_hottest_functions_and_round_trips_json():
    table = known_table()
    kept = bounded(table, 2)
    assert set(kept.functions) == {VIEW, QUERY}
    assert set(kept.edges) == {(VIEW, QUERY)}
    # What was left out is its caller's own time now: the total is the same.
    assert abs(kept.functions[VIEW].own - 0.300) < 1e-9
    assert abs(total_time(kept) - total_time(table)) < 1e-9
    again = ProfileTable.from_json(table.to_json())
    assert again.functions == table.functions and again.edges == table.edges
