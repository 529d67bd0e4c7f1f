"""Profiles in speedscope's file format (https://www.speedscope.app/file-format-schema.json,
shipped with the npm package as dist/release/file-format-schema.json), which the console's
copy of speedscope opens: time order, left heavy, sandwich, search and zoom.

Each document holds "sampled" profiles: stacks (indices into shared frames, root first)
with weights. For a run the stacks are its call graph unfolded into a tree
(telemetry.profiling.call_tree: exact where every function has one caller, shared out in
proportion where it has several); for the continuous profiler they are the stacks it
sampled, as sampled.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from telemetry.profiling.call_tree import CallTree
from telemetry.profiling.table import FunctionKey

SCHEMA = "https://www.speedscope.app/file-format-schema.json"
EXPORTER = "observability-site telemetry.profiling"


class Document:
    """A speedscope file being built: frames shared by all of its profiles."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._frames: list[dict[str, Any]] = []
        self._index: dict[FunctionKey, int] = {}
        self._profiles: list[dict[str, Any]] = []

    def frame(self, key: FunctionKey) -> int:
        index = self._index.get(key)
        if index is None:
            file, line, name = key
            entry: dict[str, Any] = {"name": name}
            if file:
                entry["file"] = file
            if line:
                entry["line"] = int(line)
            index = self._index[key] = len(self._frames)
            self._frames.append(entry)
        return index

    def add_samples(
        self,
        name: str,
        samples: Iterable[tuple[Iterable[FunctionKey], float]],
        *,
        unit: str = "seconds",
    ) -> None:
        """One sampled profile: (stack from root to leaf, weight) pairs."""
        stacks: list[list[int]] = []
        weights: list[float] = []
        for stack, weight in samples:
            if weight <= 0:
                continue
            stacks.append([self.frame(key) for key in stack])
            weights.append(round(weight, 9))
        self._profiles.append(
            {
                "type": "sampled",
                "name": name,
                "unit": unit,
                "startValue": 0,
                "endValue": round(sum(weights), 9),
                "samples": stacks,
                "weights": weights,
            }
        )

    def add_tree(self, name: str, tree: CallTree, *, unit: str = "seconds") -> None:
        """One profile from a call tree: each node's self value is the weight of its stack."""
        self.add_samples(name, tree.paths(), unit=unit)

    def as_json(self) -> dict[str, Any]:
        return {
            "$schema": SCHEMA,
            "name": self.name,
            "exporter": EXPORTER,
            "activeProfileIndex": 0,
            "shared": {"frames": self._frames},
            "profiles": self._profiles,
        }
