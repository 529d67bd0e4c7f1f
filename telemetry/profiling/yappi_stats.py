"""Reading yappi's statistics into a ProfileTable, and closing the calls a capture leaves
open when it stops.

Two of yappi's internal entry points (module `_yappi`, yappi 1.6-1.7; the public API is
the fallback when either is missing):

- `_yappi.enum_func_stats(callback, filter)`: the raw tuples behind `yappi.get_func_stats()`.
  The public call builds a Python object per function and per edge: 6 ms for one request's
  ~350 functions, against 0.9 ms here for the same table (tests/telemetry/profiling/
  test_profiling_stats_reader.py checks both give the same table).
- `_yappi._profile_event(frame, "return", None)`: tells yappi a frame returned. A capture
  stops inside the profiler's own functions (the middleware's `finally`, Celery's
  task_postrun dispatch ...); yappi keeps them on its call stack while stopped, and the next
  capture's first returns pop them with the time in between (seconds) as if they had run
  all along: the capture's end path showed as the widest block of a run, with a cumulative
  time above the run's total. Closing those frames just before stopping leaves yappi's stack
  as it found it.
"""

from __future__ import annotations

import logging
import os
import sys
from types import FrameType
from typing import Any

from telemetry.profiling.table import Costs, FunctionKey, ProfileTable

logger = logging.getLogger(__name__)

try:  # yappi's C module; see the module docstring
    import _yappi
except ImportError:  # pragma: no cover - yappi always ships it
    _yappi = None

_enum_func_stats = getattr(_yappi, "enum_func_stats", None)
_profile_event = getattr(_yappi, "_profile_event", None)
_pause = getattr(_yappi, "_pause", None)
_resume = getattr(_yappi, "_resume", None)

# The stat tuple's fields used here, in the order _yappi reports them.
_NAME, _MODULE, _LINE, _CALLS, _PRIMITIVE, _TOTAL, _OWN, _INDEX, _CHILDREN = (
    0, 1, 2, 3, 4, 6, 7, 8, 9,
)  # fmt: skip


def fast_paths_available() -> bool:
    """True when this yappi has the internal entry points used here."""
    return None not in (_enum_func_stats, _profile_event, _pause, _resume)


def _is_yappi_itself(module: str) -> bool:
    return os.path.basename(module) == "yappi.py" or module == "_yappi"


def read_table() -> ProfileTable:
    """What yappi recorded since its last clear_stats(), as a table (yappi stopped)."""
    if _enum_func_stats is None or _pause is None or _resume is None:
        import yappi

        return ProfileTable.from_yappi(yappi.get_func_stats())
    entries: list[tuple[Any, ...]] = []
    _pause()
    try:
        _enum_func_stats(entries.append, {})
    finally:
        _resume()
    # One entry per function and thread: the same function in two threads is added up, and
    # an edge names its callee by the index of the callee's entry in the same thread.
    keys: dict[int, FunctionKey] = {
        entry[_INDEX]: (entry[_MODULE], int(entry[_LINE]), entry[_NAME]) for entry in entries
    }
    table = ProfileTable()
    functions, edges = table.functions, table.edges
    for entry in entries:
        if _is_yappi_itself(entry[_MODULE]):
            continue
        key = keys[entry[_INDEX]]
        costs = Costs(entry[_CALLS], entry[_PRIMITIVE], entry[_OWN], entry[_TOTAL])
        if key in functions:
            functions[key].add(costs)
        else:
            functions[key] = costs
        for index, calls, primitive, total, own in entry[_CHILDREN]:
            child = keys.get(index)
            if child is None or _is_yappi_itself(child[0]):
                continue
            edge = Costs(calls, primitive, own, total)
            if (key, child) in edges:
                edges[(key, child)].add(edge)
            else:
                edges[(key, child)] = edge
    return table


def frames_of(frame: FrameType | None) -> dict[int, FrameType]:
    """The frames on the stack from `frame` outwards, by id (holding them keeps ids unique)."""
    frames: dict[int, FrameType] = {}
    while frame is not None:
        frames[id(frame)] = frame
        frame = frame.f_back
    return frames


def close_calls_since(outer: dict[int, FrameType]) -> int:
    """Tell yappi that every frame entered since the capture began returned (the caller's
    frames up to the first one in `outer`); call it right before yappi.stop(). Returns how
    many it closed (0 when this yappi lacks the entry point)."""
    if _profile_event is None:
        return 0
    frame: FrameType | None = sys._getframe(0)
    closed = 0
    while frame is not None and id(frame) not in outer:
        _profile_event(frame, "return", None)
        closed += 1
        frame = frame.f_back
    return closed
