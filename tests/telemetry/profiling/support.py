"""Helpers for the in-process profiling tests (their state is reset by conftest.py)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from telemetry.profiling import runs as profiling


def start_run(**fields):
    """A running run, already in this process's snapshot."""
    fields.setdefault("target", "requests")
    fields.setdefault("sample_every", 1)
    run = profiling.run_start(**fields)
    profiling.active_runs.reload()
    return run


def assert_parses_as_callgrind(text: str, path: Path) -> dict[str, int]:
    """Valgrind's own reader of the format (callgrind_annotate) reads it, and its inclusive
    costs add up: none above the program's total (our functions' own times). Returns the
    inclusive microseconds per function name."""
    assert shutil.which("callgrind_annotate"), "Debian's valgrind package has callgrind_annotate"
    path.write_text(text)
    done = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    total = int(re.search(r"^([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", done.stdout, re.M)
                .group(1).replace(",", ""))  # fmt: skip
    summary = int(re.search(r"^summary: (\d+)$", text, re.M).group(1))
    assert total == summary
    inclusive: dict[str, int] = {}
    for cost, name in re.findall(r"^\s*([\d,]+) \([\d.]+%\)\s+\S+?:(\S+) \[", done.stdout, re.M):
        inclusive[name] = max(inclusive.get(name, 0), int(cost.replace(",", "")))
    assert inclusive and max(inclusive.values()) <= total
    return inclusive
