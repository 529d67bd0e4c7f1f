"""The function table of a profile: per function, calls and times; per caller -> callee
edge, the same. Built from yappi's statistics, merged across captures and processes,
bounded in size (telemetry.profiling.table_filters), and stored as JSON.

Times are seconds. "own" is time in the function itself (yappi tsub, pstats tt), "total"
includes its callees (yappi ttot, pstats ct). Functions are keyed (file, line, name), the
key pstats uses.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

FunctionKey = tuple[str, int, str]


@dataclass
class Costs:
    """Calls (all, and primitive: not recursive) and times of a function or an edge."""

    calls: int = 0
    primitive_calls: int = 0
    own: float = 0.0
    total: float = 0.0

    def add(self, other: Costs) -> None:
        self.calls += other.calls
        self.primitive_calls += other.primitive_calls
        self.own += other.own
        self.total += other.total

    def as_list(self) -> list[Any]:
        return [self.calls, self.primitive_calls, round(self.own, 9), round(self.total, 9)]


@dataclass
class ProfileTable:
    """Functions and caller -> callee edges with their costs."""

    functions: dict[FunctionKey, Costs] = field(default_factory=dict)
    edges: dict[tuple[FunctionKey, FunctionKey], Costs] = field(default_factory=dict)

    @classmethod
    def from_yappi(cls, stats: Iterable[Any]) -> ProfileTable:
        """Convert yappi's YFuncStats (after yappi.stop()) into a table."""
        table = cls()
        for stat in stats:
            key = (stat.module, int(stat.lineno), stat.name)
            table.functions[key] = Costs(stat.ncall, stat.nactualcall, stat.tsub, stat.ttot)
            for child in stat.children:
                child_key = (child.module, int(child.lineno), child.name)
                table.edges[(key, child_key)] = Costs(
                    child.ncall, child.nactualcall, child.tsub, child.ttot
                )
        return table

    def merge(self, other: ProfileTable) -> None:
        """Add another table's counts and times into this one."""
        for key, costs in other.functions.items():
            self.functions.setdefault(key, Costs()).add(costs)
        for edge, costs in other.edges.items():
            self.edges.setdefault(edge, Costs()).add(costs)

    def top(self, limit: int, *, by: str = "own") -> list[tuple[FunctionKey, Costs]]:
        """The `limit` functions with the most `by` time ("own" or "total")."""
        return sorted(self.functions.items(), key=lambda item: getattr(item[1], by), reverse=True)[
            :limit
        ]

    def hottest(self) -> FunctionKey | None:
        """The function with the most own time, or None for an empty table."""
        top = self.top(1)
        return top[0][0] if top else None

    def to_json(self) -> dict[str, Any]:
        """Compact JSON: functions once, edges by index into the function list."""
        index = {key: i for i, key in enumerate(self.functions)}
        return {
            "functions": [[*key, *costs.as_list()] for key, costs in self.functions.items()],
            "edges": [
                [index[parent], index[child], *costs.as_list()]
                for (parent, child), costs in self.edges.items()
                if parent in index and child in index
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ProfileTable:
        table = cls()
        if not data:
            return table
        keys: list[FunctionKey] = []
        for file, line, name, calls, primitive, own, total in data.get("functions", []):
            key = (file, int(line), name)
            keys.append(key)
            table.functions[key] = Costs(calls, primitive, own, total)
        for parent, child, calls, primitive, own, total in data.get("edges", []):
            table.edges[(keys[parent], keys[child])] = Costs(calls, primitive, own, total)
        return table


def function_label(key: FunctionKey) -> str:
    """'name (file.py:12)' with the file's last two path parts, for tables and pictures."""
    file, line, name = key
    short = "/".join(file.replace("\\", "/").split("/")[-2:])
    return f"{name} ({short}:{line})"
