"""A profile as a tree of stacks: from sampled stacks (exact), or unfolded from a call graph
(yappi's table) the way gprof does. The icicle picture and the speedscope export both draw
from it.

A call graph has caller -> callee edges, not stacks. Unfolding starts at the root entries
(the time each function spent not called by another profiled function) and follows the
edges; where a function is reached from several callers, its callees' time is shared out
in proportion to what each caller spent in it. A node's value is its total time in that
context, its self value what its children do not account for.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from telemetry.profiling.table import FunctionKey, ProfileTable


@dataclass
class Node:
    key: FunctionKey
    value: float
    children: list[Node] = field(default_factory=list)

    @property
    def self_value(self) -> float:
        return max(0.0, self.value - sum(child.value for child in self.children))


@dataclass
class CallTree:
    roots: list[Node]

    @property
    def total(self) -> float:
        return sum(root.value for root in self.roots)

    def paths(self) -> Iterator[tuple[list[FunctionKey], float]]:
        """(stack from root to leaf, self value) for every node with time of its own."""
        stack: list[tuple[Node, list[FunctionKey]]] = [
            (root, [root.key]) for root in reversed(self.roots)
        ]
        while stack:
            node, path = stack.pop()
            if node.self_value > 0:
                yield path, node.self_value
            for child in reversed(node.children):
                stack.append((child, [*path, child.key]))


def unfold(
    table: ProfileTable,
    *,
    max_depth: int = 128,
    max_nodes: int = 50_000,
    min_fraction: float = 1e-5,
) -> CallTree:
    """The call graph unfolded into a tree (see the module docstring). Branches under
    `min_fraction` of the whole, past `max_depth` or past `max_nodes` stay in their parent's
    self value, so the tree's total is the table's."""
    callees: dict[FunctionKey, list[tuple[FunctionKey, float]]] = {}
    incoming: dict[FunctionKey, float] = {}
    for (parent, child), costs in table.edges.items():
        if parent != child and parent in table.functions and child in table.functions:
            callees.setdefault(parent, []).append((child, costs.total))
            incoming[child] = incoming.get(child, 0.0) + costs.total
    entries = [
        (key, max(0.0, costs.total - incoming.get(key, 0.0)))
        for key, costs in table.functions.items()
    ]
    grand_total = sum(value for _, value in entries)
    if grand_total <= 0:
        return CallTree([])
    minimum = grand_total * min_fraction
    budget = [max_nodes]

    def grow(key: FunctionKey, value: float, depth: int, path: frozenset) -> Node:
        budget[0] -= 1
        node = Node(key, value)
        function_total = table.functions[key].total
        if depth + 1 >= max_depth or function_total <= 0 or budget[0] <= 0:
            return node
        share = min(1.0, value / function_total)
        parts = [(child, edge_total * share) for child, edge_total in callees.get(key, ())]
        spent = sum(part for _, part in parts)
        if spent > value > 0:  # rounding and recursion: never more than the parent
            parts = [(child, part * value / spent) for child, part in parts]
        for child, part in sorted(parts, key=lambda item: -item[1]):
            if part >= minimum and child not in path and budget[0] > 0:
                node.children.append(grow(child, part, depth + 1, path | {child}))
        return node

    roots = [
        grow(key, value, 0, frozenset({key}))
        for key, value in sorted(entries, key=lambda item: -item[1])
        if value >= minimum
    ]
    return CallTree(roots)


def from_stacks(stacks: Iterable[tuple[Iterable[FunctionKey], float]]) -> CallTree:
    """A tree from sampled stacks (root first) and their weights: exact, nothing shared."""
    roots: dict[FunctionKey, tuple[Node, dict]] = {}
    for stack, weight in stacks:
        level = roots
        for key in stack:
            entry = level.get(key)
            if entry is None:
                entry = level[key] = (Node(key, 0.0), {})
            entry[0].value += weight
            level = entry[1]

    def build(level: dict) -> list[Node]:
        nodes = []
        for node, children in level.values():
            node.children = build(children)
            nodes.append(node)
        nodes.sort(key=lambda node: -node.value)
        return nodes

    return CallTree(build(roots))
