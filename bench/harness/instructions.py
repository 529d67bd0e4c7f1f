"""Instruction counts of a child process (valgrind's cachegrind, no cache simulation): every
thread's instructions, the same from run to run whatever else the machine does, where CPU
time on a shared machine moves by tens of percent."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.harness import services

# What keeps timers out of a count: under valgrind a second holds 50 times fewer requests or
# jobs, so a periodic export or poll would weigh 50 times what it weighs served.
TIMERS_OFF = {
    "OTEL_METRIC_EXPORT_INTERVAL": "3600000",
    "TELEMETRY_CONTROL_POLL_SECONDS": "3600",
    "PYTHONHASHSEED": "0",
}

# Put before a command to count its instructions; the count is on its stderr (`refs`).
VALGRIND = ("valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null")


def refs(stderr: str) -> int:
    """The instructions cachegrind counted, from the stderr of a command run under VALGRIND."""
    found = re.findall(r"^==\d+==\s+I\s+refs:\s+([\d,]+)\s*$", stderr, re.M)
    if not found:
        raise ValueError(f"no cachegrind 'I refs' line in:\n{stderr[-2000:]}")
    return int(found[-1].replace(",", ""))


def counted(command: Sequence[str]) -> list[str]:
    """`command` run under cachegrind."""
    return [*VALGRIND, *command]


def per_unit(
    counts: tuple[int, int],
    command_for: Callable[[int], list[str]],
    *,
    env: dict[str, str],
    cwd: Path,
    what: str,
) -> float:
    """Instructions per unit of work (a request, a job): the child `command_for(count)` run
    under cachegrind for each of the two `counts`, with TIMERS_OFF, and the difference of
    the totals over the difference of the counts, so that start-up cancels out."""
    totals = []
    for count in counts:
        _, done = services.run_child(
            counted(command_for(count)),
            env={**env, **TIMERS_OFF},
            cwd=cwd,
            what=f"cachegrind run of {what}, {count}",
            timeout=3600,
        )
        totals.append(refs(done.stderr))
    low, high = counts
    return (totals[1] - totals[0]) / (high - low)
