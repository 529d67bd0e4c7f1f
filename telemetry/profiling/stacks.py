"""Sampled stacks, folded: the continuous profiler's data (telemetry.profiling.continuous).

A StackProfile holds distinct stacks (frame indices from root to leaf) with how many
samples hit each and their weight (microseconds of CPU or wall time), and, for the traces
whose spans were sampled, the same per trace. Profiles of several windows and processes
merge into one; a profile can be narrowed to one trace, shown with import machinery
grouped or excluded, summarised per function, drawn as a tree and compared with another.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from telemetry.profiling import own_code
from telemetry.profiling.call_tree import CallTree, from_stacks
from telemetry.profiling.table import FunctionKey

Stack = tuple[int, ...]


@dataclass
class FunctionRow:
    key: FunctionKey
    self_weight: int = 0  # microseconds with this function at the top of the stack
    total_weight: int = 0  # microseconds with this function anywhere on the stack
    samples: int = 0


@dataclass
class StackProfile:
    frames: list[FunctionKey] = field(default_factory=list)
    stacks: dict[Stack, list[int]] = field(default_factory=dict)  # -> [samples, weight]
    traces: dict[str, dict[Stack, list[int]]] = field(default_factory=dict)
    dropped_samples: int = 0
    _index: dict[FunctionKey, int] = field(default_factory=dict, repr=False)

    # --- building ---------------------------------------------------------------------

    def frame_index(self, key: FunctionKey) -> int:
        index = self._index.get(key)
        if index is None:
            index = self._index[key] = len(self.frames)
            self.frames.append(key)
        return index

    def add(self, stack: Stack, samples: int, weight: int, trace_id: str | None = None) -> None:
        """Count `samples` of `stack` (indices of this profile's frames) with their weight."""
        counts = self.stacks.get(stack)
        if counts is None:
            self.stacks[stack] = [samples, weight]
        else:
            counts[0] += samples
            counts[1] += weight
        if trace_id:
            per_trace = self.traces.setdefault(trace_id, {})
            counts = per_trace.get(stack)
            if counts is None:
                per_trace[stack] = [samples, weight]
            else:
                counts[0] += samples
                counts[1] += weight

    def merge(self, other: StackProfile) -> None:
        """Add another profile's counts (frames are matched by key)."""
        remap = [self.frame_index(key) for key in other.frames]
        for stack, (samples, weight) in other.stacks.items():
            self.add(tuple(remap[i] for i in stack), samples, weight)
        for trace_id, stacks in other.traces.items():
            per_trace = self.traces.setdefault(trace_id, {})
            for stack, (samples, weight) in stacks.items():
                mapped = tuple(remap[i] for i in stack)
                counts = per_trace.setdefault(mapped, [0, 0])
                counts[0] += samples
                counts[1] += weight
        self.dropped_samples += other.dropped_samples

    # --- reading ----------------------------------------------------------------------

    @property
    def samples(self) -> int:
        return sum(samples for samples, _ in self.stacks.values())

    @property
    def weight(self) -> int:
        return sum(weight for _, weight in self.stacks.values())

    def keyed(self, stacks: dict[Stack, list[int]] | None = None) -> Iterator[tuple[list, int]]:
        """(stack of function keys, weight) for each distinct stack."""
        for stack, (_, weight) in (self.stacks if stacks is None else stacks).items():
            yield [self.frames[i] for i in stack], weight

    def for_trace(self, trace_id: str) -> StackProfile:
        """The samples taken while this trace's span was current."""
        narrowed = StackProfile(frames=list(self.frames), _index=dict(self._index))
        for stack, (samples, weight) in self.traces.get(trace_id, {}).items():
            narrowed.add(stack, samples, weight, trace_id)
        return narrowed

    def with_import_frames(self, mode: str) -> StackProfile:
        """Import machinery grouped into one frame per import ("group"), samples taken
        during an import left out ("exclude"), or as sampled ("keep")."""
        if mode == "keep":
            return self
        result = StackProfile()
        label_cache: dict[int, FunctionKey | None] = {}
        for source, target in ((self.stacks, None), *((s, t) for t, s in self.traces.items())):
            for stack, (samples, weight) in source.items():
                keys = self._reshaped(stack, mode, label_cache)
                if keys is None:
                    continue
                mapped = tuple(result.frame_index(key) for key in keys)
                if target is None:
                    result.add(mapped, samples, weight)
                else:
                    counts = result.traces.setdefault(target, {}).setdefault(mapped, [0, 0])
                    counts[0] += samples
                    counts[1] += weight
        result.dropped_samples = self.dropped_samples
        return result

    def _reshaped(self, stack: Stack, mode: str, cache) -> list[FunctionKey] | None:
        keys: list[FunctionKey] = []
        in_import = False
        for index in stack:
            grouped = cache.get(index, False)
            if grouped is False:
                key = self.frames[index]
                grouped = (
                    own_code.IMPORT_GROUP_KEY
                    if own_code.is_import_function(key[0], key[2])
                    else None
                )
                cache[index] = grouped
            if grouped is None:
                keys.append(self.frames[index])
                in_import = False
            elif mode == "exclude":
                return None
            elif not in_import:  # consecutive import frames: one
                keys.append(grouped)
                in_import = True
        return keys

    def functions(self) -> list[FunctionRow]:
        """Per function, its self and total weight, most self weight first."""
        rows: dict[int, FunctionRow] = {}
        for stack, (samples, weight) in self.stacks.items():
            if not stack:
                continue
            for index in set(stack):
                row = rows.get(index)
                if row is None:
                    row = rows[index] = FunctionRow(self.frames[index])
                row.total_weight += weight
                row.samples += samples
            rows[stack[-1]].self_weight += weight
        return sorted(rows.values(), key=lambda row: (-row.self_weight, -row.total_weight))

    def tree(self) -> CallTree:
        return from_stacks((keys, weight) for keys, weight in self.keyed())

    def trace_ids(self) -> list[tuple[str, int, int]]:
        """(trace id, samples, weight) of every trace sampled, most sampled first."""
        found = [
            (
                trace_id,
                sum(counts[0] for counts in stacks.values()),
                sum(counts[1] for counts in stacks.values()),
            )
            for trace_id, stacks in self.traces.items()
        ]
        return sorted(found, key=lambda item: (-item[1], item[0]))

    # --- storage ----------------------------------------------------------------------

    def to_json(self) -> tuple[dict[str, Any], list[Any]]:
        """(stacks, traces) for ContinuousProfileWindow: frames once, each stack as
        [samples, weight, frame indices...], each trace as [trace id, [[stack position,
        samples, weight], ...]]."""
        ordered = list(self.stacks.items())
        position = {stack: i for i, (stack, _) in enumerate(ordered)}
        stacks = {
            "frames": [list(key) for key in self.frames],
            "stacks": [[samples, weight, *stack] for stack, (samples, weight) in ordered],
        }
        traces = [
            [
                trace_id,
                [
                    [position[stack], samples, weight]
                    for stack, (samples, weight) in per_trace.items()
                    if stack in position
                ],
            ]
            for trace_id, per_trace in self.traces.items()
        ]
        return stacks, traces

    @classmethod
    def from_json(
        cls, stacks: dict[str, Any] | None, traces: Iterable[Any] | None = None
    ) -> StackProfile:
        profile = cls()
        if not stacks:
            return profile
        for file, line, name in stacks.get("frames", []):
            profile.frame_index((file, int(line), name))
        ordered: list[Stack] = []
        for entry in stacks.get("stacks", []):
            stack = tuple(int(i) for i in entry[2:])
            ordered.append(stack)
            profile.add(stack, int(entry[0]), int(entry[1]))
        for trace_id, per_trace in traces or []:
            target = profile.traces.setdefault(trace_id, {})
            for position, samples, weight in per_trace:
                if 0 <= position < len(ordered):
                    counts = target.setdefault(ordered[position], [0, 0])
                    counts[0] += int(samples)
                    counts[1] += int(weight)
        return profile
