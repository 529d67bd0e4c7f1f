"""An icicle graph of a run, rendered to SVG on the server so the admin shows it inline.

yappi records a call graph (caller -> callee edges with times), not stacks. The icicle is
unfolded from the functions nobody called (the capture roots) down the edges; where a
function is reached from several callers, its callees' time is shared out in proportion,
as gprof does. Widths are total time; the tooltip of every box has its numbers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from xml.sax.saxutils import escape

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
    start: float  # seconds from the left edge
    value: float  # seconds


def layout(table: ProfileTable) -> tuple[list[Box], float]:
    """The boxes of the icicle and the total time the full width stands for."""
    callees: dict[FunctionKey, list[tuple[FunctionKey, float]]] = {}
    called: set[FunctionKey] = set()
    for (parent, child), costs in table.edges.items():
        if parent != child:
            callees.setdefault(parent, []).append((child, costs.total))
            called.add(child)
    roots = [(key, costs.total) for key, costs in table.functions.items() if key not in called]
    if not roots:  # everything is in a cycle: start from the function with most total time
        roots = [(key, costs.total) for key, costs in table.top(1, by="total")]
    grand_total = sum(value for _, value in roots)
    boxes: list[Box] = []
    if grand_total <= 0:
        return boxes, 0.0
    minimum = grand_total * MIN_FRACTION

    def unfold(key: FunctionKey, value: float, depth: int, start: float, path: set) -> None:
        if len(boxes) >= MAX_BOXES:
            return
        boxes.append(Box(key, depth, start, value))
        function_total = table.functions[key].total if key in table.functions else value
        if depth + 1 >= MAX_DEPTH or function_total <= 0:
            return
        share = value / function_total
        parts = [(child, edge_total * share) for child, edge_total in callees.get(key, [])]
        spent = sum(v for _, v in parts)
        if spent > value > 0:  # rounding and recursion: never wider than the parent
            parts = [(child, v * value / spent) for child, v in parts]
        offset = start
        for child, child_value in sorted(parts, key=lambda item: -item[1]):
            if child_value >= minimum and child not in path and child in table.functions:
                unfold(child, child_value, depth + 1, offset, path | {child})
            offset += child_value

    offset = 0.0
    for key, value in sorted(roots, key=lambda item: -item[1]):
        if value >= minimum:
            unfold(key, value, 0, offset, {key})
        offset += value
    return boxes, grand_total


def _colour(key: FunctionKey) -> str:
    digest = hashlib.md5(key[0].encode(), usedforsecurity=False).digest()
    return f"hsl({10 + digest[0] % 40}, {65 + digest[1] % 25}%, {55 + digest[2] % 15}%)"


def render_svg(table: ProfileTable, *, title: str) -> str:
    """The icicle graph as a standalone SVG document (also fine inline in HTML)."""
    boxes, grand_total = layout(table)
    depth = max((box.depth for box in boxes), default=0) + 1
    height = HEADER_HEIGHT + depth * ROW_HEIGHT + 4
    hottest = table.hottest()
    hottest_text = (
        f"hottest by own time: {function_label(hottest)}"
        f" ({table.functions[hottest].own * 1000:.1f} ms)"
        if hottest
        else "no captures yet"
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="profiling-icicle" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="monospace" '
        'font-size="12" role="img">',
        f"<title>{escape(title)}</title>",
        f'<text x="4" y="16" font-size="14">{escape(title)}</text>',
        f'<text x="4" y="34" class="hottest">{escape(hottest_text)}; width = total time '
        f"({grand_total * 1000:.1f} ms), top = entry points</text>",
    ]
    scale = WIDTH / grand_total if grand_total else 0
    for box in boxes:
        x = box.start * scale
        width = box.value * scale
        y = HEADER_HEIGHT + box.depth * ROW_HEIGHT
        label = function_label(box.key)
        costs = table.functions.get(box.key)
        tooltip = (
            f"{label}: {box.value * 1000:.2f} ms here ({box.value / grand_total:.1%}); "
            f"function total {costs.total * 1000:.2f} ms, own {costs.own * 1000:.2f} ms, "
            f"{costs.calls} calls"
            if costs
            else label
        )
        parts.append(
            f'<g class="frame" data-function="{escape(label, {chr(34): "&quot;"})}">'
            f"<title>{escape(tooltip)}</title>"
            f'<rect x="{x:.2f}" y="{y}" width="{max(width - 0.5, 0.5):.2f}" '
            f'height="{ROW_HEIGHT - 1}" fill="{_colour(box.key)}" rx="1"/>'
        )
        fits = int((width - 6) / CHAR_WIDTH)
        if fits >= 3:
            text = label if len(label) <= fits else label[: fits - 1] + "…"
            parts.append(f'<text x="{x + 3:.2f}" y="{y + 13}">{escape(text)}</text>')
        parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts)
