"""bench/span_encoding.py and bench/log_encoding.py run to the end on a small batch: each
checks its fast encoder against the official one before timing, and prints one row per batch
with both ratios."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("script", "batches"),
    [("span_encoding.py", ("typical", "distinct")), ("log_encoding.py", ("worker", "cold"))],
)
def test_the_encoding_benchmark_prints_its_ratios(script, batches):
    done = subprocess.run(
        [sys.executable, str(REPOSITORY / "bench" / script), "--rounds", "2", "--batch", "30"],
        capture_output=True,
        text=True,
        cwd=REPOSITORY,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines() if line.strip()}
    for batch in batches:
        official, grpc, http = (float(value) for value in rows[batch][1:4])
        assert official > 0 and grpc > 0 and http > 0
        assert rows[batch][4].endswith("x") and rows[batch][6].endswith("x")
