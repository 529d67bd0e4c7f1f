"""A small icicle graph, rendered to SVG on the server so the admin shows it inline: the
summary of a run or of a continuous profile. The interactive view is speedscope
(telemetry.profiling.speedscope).

A run's call graph is unfolded into a tree as gprof does (telemetry.profiling.call_tree);
sampled stacks make a tree as they are. Widths are total time (or weight); the tooltip of
every box has its numbers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from xml.sax.saxutils import escape

from telemetry.profiling import call_tree
from telemetry.profiling.call_tree import CallTree, Node
from telemetry.profiling.table import FunctionKey, ProfileTable, function_label

WIDTH = 1200
ROW_HEIGHT = 18
HEADER_HEIGHT = 44
CHAR_WIDTH = 7.0  # 12px monospace
MAX_DEPTH = 60
MAX_BOXES = 4000
MIN_FRACTION = 0.001  # boxes narrower than 0.1% of the whole are left out


@dataclass
class Box:
    key: FunctionKey
    depth: int
    start: float  # seconds (or weight) from the left edge
    value: float


def layout(tree: CallTree) -> tuple[list[Box], float]:
    """The boxes of the icicle (at most MAX_BOXES, none narrower than MIN_FRACTION of the
    whole, MAX_DEPTH rows) and the total the full width stands for."""
    grand_total = tree.total
    boxes: list[Box] = []
    if grand_total <= 0:
        return boxes, 0.0
    minimum = grand_total * MIN_FRACTION
    pending: list[tuple[Node, int, float]] = []
    offset = 0.0
    for root in tree.roots:
        pending.append((root, 0, offset))
        offset += root.value
    pending.reverse()
    while pending and len(boxes) < MAX_BOXES:
        node, depth, start = pending.pop()
        if node.value < minimum or depth >= MAX_DEPTH:
            continue
        boxes.append(Box(node.key, depth, start, node.value))
        children = []
        child_start = start
        for child in node.children:
            children.append((child, depth + 1, child_start))
            child_start += child.value
        pending.extend(reversed(children))
    return boxes, grand_total


def _colour(key: FunctionKey) -> str:
    digest = hashlib.md5(key[0].encode(), usedforsecurity=False).digest()
    return f"hsl({10 + digest[0] % 40}, {65 + digest[1] % 25}%, {55 + digest[2] % 15}%)"


def render_svg(table: ProfileTable, *, title: str) -> str:
    """The icicle graph of a call-graph table as a standalone SVG document (also fine inline
    in HTML); widths are total time."""
    tree = call_tree.unfold(
        table, max_depth=MAX_DEPTH, max_nodes=MAX_BOXES * 4, min_fraction=MIN_FRACTION
    )
    hottest = table.hottest()
    hottest_text = (
        f"hottest by own time: {function_label(hottest)}"
        f" ({table.functions[hottest].own * 1000:.1f} ms)"
        if hottest
        else "no captures yet"
    )

    def describe(box: Box, grand_total: float) -> str:
        label = function_label(box.key)
        costs = table.functions.get(box.key)
        if costs is None:
            return label
        return (
            f"{label}: {box.value * 1000:.2f} ms here ({box.value / grand_total:.1%}); "
            f"function total {costs.total * 1000:.2f} ms, own {costs.own * 1000:.2f} ms, "
            f"{costs.calls} calls"
        )

    return render_tree_svg(
        tree,
        title=title,
        caption=f"{hottest_text}; width = total time",
        unit_text=lambda total: f"{total * 1000:.1f} ms",
        describe=describe,
    )


def render_tree_svg(
    tree: CallTree,
    *,
    title: str,
    caption: str,
    unit_text: Callable[[float], str],
    describe: Callable[[Box, float], str] | None = None,
    colour: Callable[[FunctionKey], str] = _colour,
) -> str:
    """An icicle graph of a call tree: the top row the entry points, widths their values."""
    boxes, grand_total = layout(tree)
    depth = max((box.depth for box in boxes), default=0) + 1
    height = HEADER_HEIGHT + depth * ROW_HEIGHT + 4
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="profiling-icicle" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="monospace" '
        'font-size="12" role="img" style="max-width:100%;height:auto">',
        f"<title>{escape(title)}</title>",
        f'<text x="4" y="16" font-size="14">{escape(title)}</text>',
        f'<text x="4" y="34" class="hottest">{escape(caption)} '
        f"({escape(unit_text(grand_total))}), top = entry points</text>",
    ]
    scale = WIDTH / grand_total if grand_total else 0
    for box in boxes:
        x = box.start * scale
        width = box.value * scale
        y = HEADER_HEIGHT + box.depth * ROW_HEIGHT
        label = function_label(box.key)
        tooltip = describe(box, grand_total) if describe else label
        parts.append(
            f'<g class="frame" data-function="{escape(label, {chr(34): "&quot;"})}">'
            f"<title>{escape(tooltip)}</title>"
            f'<rect x="{x:.2f}" y="{y}" width="{max(width - 0.5, 0.5):.2f}" '
            f'height="{ROW_HEIGHT - 1}" fill="{colour(box.key)}" rx="1"/>'
        )
        fits = int((width - 6) / CHAR_WIDTH)
        if fits >= 3:
            text = label if len(label) <= fits else label[: fits - 1] + "…"
            parts.append(f'<text x="{x + 3:.2f}" y="{y + 13}">{escape(text)}</text>')
        parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts)
