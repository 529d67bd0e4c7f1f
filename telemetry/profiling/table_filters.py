"""Reshaping a call-graph table without breaking its arithmetic: leaving the profiler's own
functions out, grouping or excluding import machinery, and bounding a table to its
hottest functions.

A yappi table is a call graph: per function its calls, own time and total time, and per
caller -> callee edge the same. Three operations keep its times adding up (the own times
sum to the profile's total, and no function's total exceeds it):

- *remove* a function and what ran under it: its time leaves every caller's total, and its
  callees keep only the share of their time that did not come through it;
- *splice* a function: it disappears, its callees are attached to its callers; its own
  time is either dropped from the callers' totals (the profiler's pass-through frames) or
  added to the callers' own time (folded import machinery, functions past the bound);
- *rename* (the grouped import's entry).

Where a function has several callers, what flows through it is shared out in proportion to
the callers' edges: the assumption every call-graph profiler (gprof, pstats' callers view)
makes, since a call graph does not record which caller a callee's time came from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from telemetry.profiling import own_code
from telemetry.profiling.table import Costs, FunctionKey, ProfileTable

REMOVE, SPLICE_DROP, SPLICE_MERGE = "remove", "splice-drop", "splice-merge"
Decision = Callable[[FunctionKey], str | None]


def without_profiler(table: ProfileTable) -> ProfileTable:
    """The table with the profiler's own functions left out (telemetry.profiling.own_code):
    its work removed with what ran under it, its pass-through frames spliced."""

    def decide(key: FunctionKey) -> str | None:
        kind = own_code.classify(key[0], key[2])
        return {"own": REMOVE, "pass": SPLICE_DROP}.get(kind)

    return reshape(table, decide)


def as_captured(table: ProfileTable) -> ProfileTable:
    """What a capture's raw yappi table shows: without the profiler (without_profiler) and
    with leaf builtins folded into their callers (without_leaf_builtins), in one pass."""
    calling = _builtins_calling_python(table)

    def decide(key: FunctionKey) -> str | None:
        kind = own_code.classify(key[0], key[2])
        if kind:
            return {"own": REMOVE, "pass": SPLICE_DROP}.get(kind)
        if key[1] == 0 and key not in calling:
            return SPLICE_MERGE
        return None

    return reshape(table, decide)


def _builtins_calling_python(table: ProfileTable) -> set[FunctionKey]:
    return {
        parent
        for parent, child in table.edges
        if parent != child and parent[1] == 0 and not own_code.is_profiler_file(child[0])
    }


def without_leaf_builtins(table: ProfileTable) -> ProfileTable:
    """Builtin (C) functions that call no Python code folded into their callers: their time
    becomes the caller's own time, as yappi shows it by default. yappi times builtins
    whatever its flag says; hidden rather than folded, their time was in no function's own
    time and the cumulative times exceeded the profile's total.

    A builtin that calls back into Python (exec running a module body, isinstance calling
    __instancecheck__, sorted calling its key) stays: folding it would attach its callees
    to every caller in proportion, and invent calls (isinstance is called from everywhere).
    """
    calling = _builtins_calling_python(table)
    return reshape(table, lambda key: SPLICE_MERGE if key[1] == 0 and key not in calling else None)


def with_import_frames(table: ProfileTable, mode: str) -> ProfileTable:
    """Import machinery grouped ("group": each import is one frame, named
    own_code.IMPORT_GROUP_LABEL, with the modules it ran under it), left out with what it
    ran ("exclude"), or as recorded ("keep")."""
    if mode == "keep":
        return table
    if mode == "exclude":
        return reshape(
            table, lambda key: REMOVE if own_code.is_import_function(key[0], key[2]) else None
        )

    def decide(key: FunctionKey) -> str | None:
        if own_code.is_import_function(key[0], key[2]) and key[2] != own_code.IMPORT_ENTRY_NAME:
            return SPLICE_MERGE
        return None

    def rename(key: FunctionKey) -> FunctionKey:
        if own_code.is_import_file(key[0]) and key[2] == own_code.IMPORT_ENTRY_NAME:
            return (key[0], key[1], own_code.IMPORT_GROUP_LABEL)
        return key

    return reshape(table, decide, rename=rename)


def bounded(table: ProfileTable, max_functions: int) -> ProfileTable:
    """The `max_functions` functions with the most total time; the others are spliced into
    their callers (their own time becomes their callers'), so the totals still add up."""
    if len(table.functions) <= max_functions:
        return table
    ranked = sorted(table.functions.items(), key=lambda item: item[1].total, reverse=True)
    kept = {key for key, _ in ranked[:max_functions]}
    return reshape(table, lambda key: None if key in kept else SPLICE_MERGE)


def total_time(table: ProfileTable) -> float:
    """The profile's total: its functions' own times added up (pstats' total_tt)."""
    return sum(costs.own for costs in table.functions.values())


# --- the reshaping ---------------------------------------------------------------------

EdgeKey = tuple[FunctionKey, FunctionKey]


class _Graph:
    """A mutable copy of a table with both directions of its edges indexed."""

    def __init__(self, table: ProfileTable) -> None:
        self.functions = {key: _copy(costs) for key, costs in table.functions.items()}
        self.edges: dict[EdgeKey, Costs] = {}
        self.callees: dict[FunctionKey, set[FunctionKey]] = {}
        self.callers: dict[FunctionKey, set[FunctionKey]] = {}
        for (parent, child), costs in table.edges.items():
            if parent in self.functions and child in self.functions:
                self.add_edge(parent, child, _copy(costs))

    def add_edge(self, parent: FunctionKey, child: FunctionKey, costs: Costs) -> None:
        existing = self.edges.get((parent, child))
        if existing is None:
            self.edges[(parent, child)] = costs
            self.callees.setdefault(parent, set()).add(child)
            self.callers.setdefault(child, set()).add(parent)
        else:
            existing.add(costs)

    def drop_edge(self, parent: FunctionKey, child: FunctionKey) -> None:
        del self.edges[(parent, child)]
        self.callees[parent].discard(child)
        self.callers[child].discard(parent)

    def drop_function(self, key: FunctionKey) -> Costs:
        for child in list(self.callees.get(key, ())):
            self.drop_edge(key, child)
        for parent in list(self.callers.get(key, ())):
            self.drop_edge(parent, key)
        self.callees.pop(key, None)
        self.callers.pop(key, None)
        return self.functions.pop(key)

    def incoming(self, key: FunctionKey) -> list[tuple[FunctionKey, Costs]]:
        return [(p, self.edges[(p, key)]) for p in self.callers.get(key, ()) if p != key]

    def outgoing(self, key: FunctionKey) -> list[tuple[FunctionKey, Costs]]:
        return [(c, self.edges[(key, c)]) for c in self.callees.get(key, ()) if c != key]

    def table(self) -> ProfileTable:
        return ProfileTable(self.functions, self.edges)


def reshape(
    table: ProfileTable,
    decide: Decision,
    *,
    rename: Callable[[FunctionKey], FunctionKey] | None = None,
) -> ProfileTable:
    """Apply `decide` (REMOVE, SPLICE_DROP, SPLICE_MERGE or None) to every function."""
    decisions = {key: decide(key) for key in table.functions}
    if not any(decisions.values()) and rename is None:
        return table
    graph = _Graph(table)
    order = _callers_first(graph)
    lost: dict[FunctionKey, float] = {}  # time to take out of each function's total
    removed = {key for key, decision in decisions.items() if decision == REMOVE}
    if removed:
        _remove(graph, order, removed, lost)
    for key in order:
        if decisions[key] in (SPLICE_DROP, SPLICE_MERGE) and key in graph.functions:
            _splice(graph, key, merge=decisions[key] == SPLICE_MERGE, lost=lost)
    _subtract_upward(graph, [key for key in order if key in graph.functions], lost)
    for costs in graph.functions.values():
        costs.total = max(costs.total, costs.own)
    result = graph.table()
    return _renamed(result, rename) if rename else result


def _copy(costs: Costs) -> Costs:
    return Costs(costs.calls, costs.primitive_calls, costs.own, costs.total)


def _callers_first(graph: _Graph) -> list[FunctionKey]:
    """Functions in an order where callers come before callees (the back edges of recursion
    ignored), from the roots down; what only cycles reach comes last."""
    finished: list[FunctionKey] = []
    state: set[FunctionKey] = set()
    roots = [key for key in graph.functions if not graph.incoming(key)]
    for start in [*roots, *graph.functions]:
        if start in state:
            continue
        state.add(start)
        stack: list[tuple[FunctionKey, Iterator[FunctionKey]]] = [
            (start, iter(graph.callees.get(start, ())))
        ]
        while stack:
            node, children = stack[-1]
            child = next((c for c in children if c not in state), None)
            if child is None:
                finished.append(node)
                stack.pop()
            else:
                state.add(child)
                stack.append((child, iter(list(graph.callees.get(child, ())))))
    finished.reverse()
    return finished


def _remove(graph: _Graph, order, removed: set[FunctionKey], lost) -> None:
    """Take out the removed functions and the share of every function that ran under them."""
    kept_share: dict[FunctionKey, float] = {}
    for key in order:
        if key in removed:
            kept_share[key] = 0.0
            continue
        costs = graph.functions[key]
        callers = graph.incoming(key)
        if costs.total > 0:
            through = sum(edge.total for _, edge in callers)
            kept = max(0.0, costs.total - through) + sum(
                edge.total * kept_share.get(parent, 1.0) for parent, edge in callers
            )
            share = kept / costs.total
        elif costs.calls > 0:
            through = sum(edge.calls for _, edge in callers)
            kept = max(0, costs.calls - through) + sum(
                edge.calls * kept_share.get(parent, 1.0) for parent, edge in callers
            )
            share = kept / costs.calls
        else:
            share = 1.0
        kept_share[key] = min(1.0, max(0.0, share))
    # What ran only under removed functions goes with them.
    gone = removed | {key for key, share in kept_share.items() if share <= 0.0}
    for key in gone:
        for parent, edge in graph.incoming(key):
            if parent not in gone:
                lost[parent] = lost.get(parent, 0.0) + edge.total * kept_share.get(parent, 1.0)
    for key in gone:
        graph.drop_function(key)
    for (parent, _), edge in graph.edges.items():
        if kept_share.get(parent, 1.0) < 1.0:
            _scale(edge, kept_share[parent])
    for key, costs in graph.functions.items():
        if kept_share.get(key, 1.0) < 1.0:
            _scale(costs, kept_share[key])


def _scale(costs: Costs, share: float) -> None:
    costs.calls = round(costs.calls * share)
    costs.primitive_calls = round(costs.primitive_calls * share)
    costs.own *= share
    costs.total *= share


def _splice(graph: _Graph, key: FunctionKey, *, merge: bool, lost) -> None:
    """Attach `key`'s callees to its callers (in proportion), then drop it."""
    callers = graph.incoming(key)
    callees = graph.outgoing(key)
    costs = graph.drop_function(key)
    inner_lost = lost.pop(key, 0.0)  # removed callees' time still inside its total
    for parent, edge in callers:
        time_share = min(1.0, edge.total / costs.total) if costs.total > 0 else 0.0
        call_share = min(1.0, edge.calls / costs.calls) if costs.calls > 0 else 0.0
        for child, child_edge in callees:
            graph.add_edge(
                parent,
                child,
                Costs(
                    round(child_edge.calls * call_share),
                    round(child_edge.primitive_calls * call_share),
                    child_edge.own * time_share,
                    child_edge.total * time_share,
                ),
            )
        own = costs.own * time_share
        if merge:
            _add_own(graph, parent, own)
        else:
            lost[parent] = lost.get(parent, 0.0) + own
        if inner_lost:
            lost[parent] = lost.get(parent, 0.0) + inner_lost * time_share


def _add_own(graph: _Graph, key: FunctionKey, own: float) -> None:
    """More own time for `key`, shared among the edges that call it."""
    costs = graph.functions[key]
    callers = graph.incoming(key)
    for _, edge in callers:
        if costs.total > 0:
            edge.own += own * min(1.0, edge.total / costs.total)
    costs.own += own


def _subtract_upward(graph: _Graph, order, lost) -> None:
    """Take the time of what was removed out of the totals of everything above it."""
    if not any(value > 0 for value in lost.values()):
        return
    for key in reversed(order):  # callees before callers
        amount = lost.get(key, 0.0)
        if amount <= 0:
            continue
        costs = graph.functions[key]
        before = costs.total
        costs.total = max(costs.own, costs.total - amount)
        if before <= 0:
            continue
        for parent, edge in graph.incoming(key):
            share = min(1.0, edge.total / before)
            edge.total = max(edge.own, edge.total - amount * share)
            lost[parent] = lost.get(parent, 0.0) + amount * share


def _renamed(table: ProfileTable, rename: Callable[[FunctionKey], FunctionKey]) -> ProfileTable:
    result = ProfileTable()
    for key, costs in table.functions.items():
        result.functions.setdefault(rename(key), Costs()).add(costs)
    for (parent, child), costs in table.edges.items():
        result.edges.setdefault((rename(parent), rename(child)), Costs()).add(costs)
    return result
