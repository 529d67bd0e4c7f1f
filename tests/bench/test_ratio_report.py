"""bench.harness.report: every benchmark prints a summary's ratios the same way (median and
min-max over rounds) and draws them as a PNG, one bar per mode with min-max whiskers."""

from __future__ import annotations

import matplotlib.image
import pytest

from bench.harness import report
from bench.harness.rounds import Ratio, summarize

RUNS = [
    {"round": 1, "mode": "off", "jobs_per_s": 40.0, "cpu_ms": 10.0},
    {"round": 1, "mode": "full 100%", "jobs_per_s": 36.0, "cpu_ms": 13.0},
    {"round": 2, "mode": "off", "jobs_per_s": 20.0, "cpu_ms": 10.0},
    {"round": 2, "mode": "full 100%", "jobs_per_s": 19.0, "cpu_ms": 12.0},
]
RATIOS = (Ratio("ratio", "jobs_per_s"), Ratio("cpu_x", "cpu_ms"))


def test_it_prints_each_ratio_as_its_median_and_min_max_over_rounds(capsys):
    summary = summarize(RUNS, ["off", "full 100%"], baseline="off", medians=[], ratios=RATIOS)
    columns = [report.ratio("ratio (min-max)", "ratio"), report.ratio("CPU x", "cpu_x", 2)]
    report.print_summary(summary, columns)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == ["mode", "ratio", "(min-max)", "CPU", "x"]
    assert lines[1].split() == ["off", "1.000", "(1.000-1.000)", "1.00", "(1.00-1.00)"]
    # Round 1: 0.90 of off's jobs/s and 1.30x its CPU; round 2: 0.95 and 1.20x.
    assert lines[2].split() == ["full", "100%", "0.925", "(0.900-0.950)", "1.25", "(1.20-1.30)"]


def test_a_ratio_with_nothing_to_divide_prints_as_a_dash():
    assert report.format_ratio({"median": float("nan"), "min": 0.0, "max": 0.0}) == "-"
    assert report.format_ratio({"median": 5.71, "min": 5.0, "max": 6.0}, 1, "x") == "5.7x (5.0-6.0)"


def test_it_draws_a_png_with_a_chart_per_panel(tmp_path):
    summary = summarize(RUNS, ["off", "full 100%"], baseline="off", medians=[], ratios=RATIOS)
    panels = [
        report.Panel("Jobs per second", "mode / off", report.ratio_bars(summary, "ratio")),
        report.Panel("CPU per job", "mode / off", report.ratio_bars(summary, "cpu_x")),
        report.Panel("nothing measured", "", {"RSS": {}}),  # left out, not drawn empty
    ]
    assert report.ratio_bars(summary, "ratio")["ratio"]["full 100%"] == pytest.approx(
        {"median": 0.925, "min": 0.9, "max": 0.95}
    )
    path = report.plot_ratios(tmp_path / "out" / "ratios.png", "title", panels)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    height, width, _ = matplotlib.image.imread(path).shape
    assert width == 1100  # 10 inches at 110 dpi
    assert 2 * 3.6 * 110 - 5 <= height <= 2 * 3.6 * 110 + 5  # two charts, not three
