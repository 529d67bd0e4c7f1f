"""Instruction counts of a child process (valgrind's cachegrind, no cache simulation): every
thread's instructions, the same from run to run whatever else the machine does, where CPU
time on a shared machine moves by tens of percent."""

from __future__ import annotations

import re
from collections.abc import Sequence

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
