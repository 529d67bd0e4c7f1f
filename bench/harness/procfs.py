"""CPU time and memory of a running process tree, read from /proc.

Unlike throughput, CPU per request hardly depends on what else the machine runs: on a shared
machine it is the steadier measure of what telemetry costs. Read from /proc rather than with
psutil: a few fields of two files, no dependency.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def children(pid: int) -> list[int]:
    """The direct children of `pid` (of every thread of it), oldest first."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found += [int(c) for c in (task / "children").read_text().split()]
    return found


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, at any depth."""
    found, pending = [], children(pid)
    while pending:
        child = pending.pop(0)
        found.append(child)
        pending += children(child)
    return found


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, every thread) `pid` has used so far, with that of the children
    it has waited for (cutime, cstime): a child that ended and was reaped still counts.
    0.0 for a process that has gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    # After the ")" closing the command: state is field 0, utime 11, stime 12, cutime 13,
    # cstime 14 (proc(5) numbers them 14-17, from the pid).
    return sum(int(f) for f in fields[11:15]) / _TICK


def rss_bytes(pid: int) -> int:
    """Resident memory of `pid` (statm's resident pages); 0 for a process that has gone."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
    except OSError:
        return 0


@dataclass(frozen=True)
class ProcessTree:
    """A process and everything below it, read afresh on every call (children come and go).

    include_root=False leaves the root out: gunicorn's master, when only its workers are
    measured.
    """

    root: int
    include_root: bool = True

    def pids(self) -> list[int]:
        return ([self.root] if self.include_root else []) + descendants(self.root)

    def cpu_seconds(self) -> float:
        """utime + stime (and reaped children's) summed over the tree."""
        return sum(cpu_seconds(pid) for pid in self.pids())

    def rss_bytes(self) -> int:
        """Resident memory summed over the tree (pages shared after fork count in each)."""
        return sum(rss_bytes(pid) for pid in self.pids())


def only_child(pid: int) -> int:
    """The pid of the single child of `pid` (gunicorn's one worker, Celery's one pool
    process): for its CPU time and memory, and for py-spy."""
    found = children(pid)
    if not found:
        raise RuntimeError(f"process {pid} has no child")
    return found[0]
