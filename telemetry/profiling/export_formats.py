"""A run's function table in standard formats: pstat (Python's pstats, snakeviz) and
callgrind (KCachegrind, QCachegrind, gprof2dot).

Both are call-graph formats, which is what yappi records: per function its calls and own
and total time, per caller -> callee edge the same. (The speedscope export, which wants
stacks, unfolds the call graph into a tree: telemetry.profiling.speedscope.)
"""

from __future__ import annotations

import marshal

from telemetry.profiling.table import FunctionKey, ProfileTable


def to_pstats(table: ProfileTable) -> bytes:
    """The marshalled stats dict that pstats.Stats(path) loads, like cProfile writes it.

    Each function maps to (primitive calls, calls, own time, total time, callers), and each
    caller to the same four numbers for the calls it made.
    """
    callers: dict[FunctionKey, dict[FunctionKey, tuple[int, int, float, float]]] = {}
    for (parent, child), costs in table.edges.items():
        callers.setdefault(child, {})[parent] = (
            costs.primitive_calls,
            costs.calls,
            costs.own,
            costs.total,
        )
    stats = {
        key: (costs.primitive_calls, costs.calls, costs.own, costs.total, callers.get(key, {}))
        for key, costs in table.functions.items()
    }
    return marshal.dumps(stats)


def _microseconds(seconds: float) -> int:
    return max(0, round(seconds * 1_000_000))


def to_callgrind(table: ProfileTable, *, title: str = "profiling run") -> str:
    """The table in the callgrind format (events in microseconds, positions are lines)."""
    files: dict[str, int] = {}
    names: dict[str, int] = {}

    def file_ref(path: str) -> str:
        if path in files:
            return f"({files[path]})"
        files[path] = len(files) + 1
        return f"({files[path]}) {path}"

    def name_ref(key: FunctionKey) -> str:
        name = f"{key[2]}:{key[1]}" if key[2] in ("<module>", "<lambda>") else key[2]
        label = f"{name} [{key[0]}:{key[1]}]"
        if label in names:
            return f"({names[label]})"
        names[label] = len(names) + 1
        return f"({names[label]}) {label}"

    children: dict[FunctionKey, list[tuple[FunctionKey, int, int]]] = {}
    for (parent, child), costs in table.edges.items():
        children.setdefault(parent, []).append((child, costs.calls, _microseconds(costs.total)))
    # A reader adds a function's own cost and its calls' costs up to its inclusive cost.
    # Under recursion (a module body importing another: exec -> <module> -> exec) yappi
    # times each caller -> callee pair on its own, so the calls can add up to more than
    # the function's total (which counts the outermost call only): scale them to it.
    for parent, calls in children.items():
        parent_costs = table.functions.get(parent)
        if parent_costs is None:
            continue
        room = max(0, _microseconds(parent_costs.total) - _microseconds(parent_costs.own))
        spent = sum(inclusive for child, _, inclusive in calls if child != parent)
        if spent > room:
            children[parent] = [
                (child, count, inclusive if child == parent else inclusive * room // spent)
                for child, count, inclusive in calls
            ]

    total = sum(_microseconds(costs.own) for costs in table.functions.values())
    lines = [
        "# callgrind format",
        "version: 1",
        "creator: observability-site telemetry.profiling.export_formats",
        f"cmd: {title}",
        "positions: line",
        "events: Microseconds",
        f"summary: {total}",
        "",
    ]
    for key, costs in table.functions.items():
        lines.append(f"fl={file_ref(key[0])}")
        lines.append(f"fn={name_ref(key)}")
        lines.append(f"{key[1]} {_microseconds(costs.own)}")
        for child, call_count, inclusive in children.get(key, []):
            lines.append(f"cfl={file_ref(child[0])}")
            lines.append(f"cfn={name_ref(child)}")
            lines.append(f"calls={call_count} {child[1]}")
            lines.append(f"{key[1]} {inclusive}")
        lines.append("")
    return "\n".join(lines) + "\n"
