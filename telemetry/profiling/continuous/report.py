"""What the console shows of continuous profiles: the profile of a time range for a
service, role or process (optionally one trace's samples), and the difference between two
ranges: top functions, a small icicle, the traces sampled, what the profiler cost, and the
speedscope documents of the same.

The range form parses what the page's query string says (never a 500 on bad input: a form
error), defaulting to the last 15 minutes of everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.safestring import mark_safe

from telemetry.models import ImportFrames
from telemetry.profiling import flamegraph
from telemetry.profiling.continuous import windows
from telemetry.profiling.speedscope import Document
from telemetry.profiling.stacks import StackProfile
from telemetry.profiling.table import FunctionKey, function_label

TOP_FUNCTIONS = 30
TOP_DIFFERENCES = 30
MAX_TRACES_SHOWN = 50
LAST_CHOICES = [("15", "last 15 minutes"), ("60", "last hour"), ("360", "last 6 hours"),
                ("1440", "last 24 hours")]  # fmt: skip
COMPARE_CHOICES = [("", "nothing"), ("previous", "the range just before"),
                   ("custom", "the range below")]  # fmt: skip


class RangeForm(forms.Form):
    """A time range (the last N minutes, or from/to), what to include, how to show it, and
    what to compare it with."""

    last = forms.ChoiceField(choices=LAST_CHOICES, required=False)
    start = forms.DateTimeField(required=False, label="from")
    end = forms.DateTimeField(required=False, label="to")
    service = forms.CharField(required=False, max_length=200)
    role = forms.CharField(required=False, max_length=50)
    process = forms.CharField(required=False, max_length=200)
    trace = forms.RegexField(regex=r"^[0-9a-f]{32}$", required=False, label="trace id")
    imports = forms.ChoiceField(choices=ImportFrames.choices, required=False)
    compare = forms.ChoiceField(choices=COMPARE_CHOICES, required=False)
    compare_start = forms.DateTimeField(required=False, label="compare from")
    compare_end = forms.DateTimeField(required=False, label="compare to")

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        now = timezone.now()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start or end:
            end = end or now
            start = start or end - timedelta(minutes=15)
        else:
            end = now
            start = end - timedelta(minutes=int(cleaned.get("last") or 15))
        if start >= end:
            self.add_error("end", "Must be after the start.")
        cleaned["start"], cleaned["end"] = start, end
        cleaned["imports"] = cleaned.get("imports") or ImportFrames.GROUP
        compare = cleaned.get("compare") or ""
        if compare == "previous":
            cleaned["compare_start"], cleaned["compare_end"] = start - (end - start), start
        elif compare == "custom":
            a, b = cleaned.get("compare_start"), cleaned.get("compare_end")
            if not a or not b:
                self.add_error("compare_start", "Give both ends of the range to compare with.")
            elif a >= b:
                self.add_error("compare_end", "Must be after the start.")
        else:
            cleaned["compare_start"] = cleaned["compare_end"] = None
        return cleaned


@dataclass
class Selection:
    """A validated range form, as the queries need it."""

    start: datetime
    end: datetime
    service: str = ""
    role: str = ""
    process: str = ""
    trace: str = ""
    imports: str = ImportFrames.GROUP
    compare_start: datetime | None = None
    compare_end: datetime | None = None

    @classmethod
    def from_form(cls, form: RangeForm) -> Selection:
        data = form.cleaned_data
        values: dict[str, Any] = {
            name: data.get(name) or default for name, default in _DEFAULTS.items()
        }
        return cls(**values)

    def profile(self, *, compared: bool = False) -> windows.RangeProfile:
        start, end = (self.compare_start, self.compare_end) if compared else (self.start, self.end)
        assert start is not None and end is not None, "a comparison needs its range"
        rows = windows.windows_in_range(
            start, end, service=self.service, role=self.role, process=self.process
        )
        return windows.range_profile(rows)

    def shown(self, merged: windows.RangeProfile) -> StackProfile:
        profile = merged.profile.for_trace(self.trace) if self.trace else merged.profile
        return profile.with_import_frames(self.imports)


_DEFAULTS = {
    "start": None, "end": None, "service": "", "role": "", "process": "", "trace": "",
    "imports": ImportFrames.GROUP, "compare_start": None, "compare_end": None,
}  # fmt: skip


def _ms(weight_us: float) -> str:
    return f"{weight_us / 1000:.1f} ms"


def function_rows(profile: StackProfile, limit: int = TOP_FUNCTIONS) -> list[dict[str, Any]]:
    total = profile.weight or 1
    return [
        {
            "function": function_label(row.key),
            "self_ms": row.self_weight / 1000,
            "total_ms": row.total_weight / 1000,
            "self_share": row.self_weight / total,
            "total_share": row.total_weight / total,
            "samples": row.samples,
        }
        for row in profile.functions()[:limit]
    ]


def differences(before: StackProfile, after: StackProfile) -> list[dict[str, Any]]:
    """Functions whose share of the profile changed most between the ranges (self time)."""
    total_before, total_after = before.weight or 1, after.weight or 1
    shares: dict[FunctionKey, list[float]] = {}
    for side, profile, total in ((0, before, total_before), (1, after, total_after)):
        for row in profile.functions():
            pair = shares.setdefault(row.key, [0.0, 0.0, 0.0, 0.0])
            pair[side] = row.self_weight / total
            pair[2 + side] = row.total_weight / total
    ranked = sorted(shares.items(), key=lambda item: -abs(item[1][1] - item[1][0]))
    return [
        {
            "function": function_label(key),
            "before": values[0],
            "after": values[1],
            "change": values[1] - values[0],
            "total_before": values[2],
            "total_after": values[3],
        }
        for key, values in ranked[:TOP_DIFFERENCES]
    ]


def _diff_colour(before: StackProfile, after: StackProfile):
    total_before, total_after = before.weight or 1, after.weight or 1
    was = {row.key: row.total_weight / total_before for row in before.functions()}
    now = {row.key: row.total_weight / total_after for row in after.functions()}

    def colour(key: FunctionKey) -> str:
        change = now.get(key, 0.0) - was.get(key, 0.0)
        strength = min(1.0, abs(change) * 5)  # 20 points of the whole: full colour
        lightness = 92 - 40 * strength
        hue = 0 if change > 0 else 220
        return f"hsl({hue}, 75%, {lightness:.0f}%)"

    return colour


def icicle(profile: StackProfile, *, title: str, colour=None) -> str:
    def describe(box, grand_total: float) -> str:
        return f"{function_label(box.key)}: {_ms(box.value)} ({box.value / grand_total:.1%})"

    options = {"colour": colour} if colour else {}
    svg = flamegraph.render_tree_svg(
        profile.tree(),
        title=title,
        caption="width = sampled time" if profile.weight else "no samples in this range",
        unit_text=_ms,
        describe=describe,
        **options,
    )
    return mark_safe(svg)  # built from escaped text only


def range_report(selection: Selection, *, trace_link) -> dict[str, Any]:
    """Everything the continuous profile page shows for a selection."""
    merged = selection.profile()
    shown = selection.shown(merged)
    scope = selection.process or selection.role or selection.service or "every process"
    title = f"{scope}, {selection.start:%Y-%m-%d %H:%M}-{selection.end:%H:%M} UTC"
    if selection.trace:
        title += f", trace {selection.trace[:8]}"
    report: dict[str, Any] = {
        "merged": merged,
        "title": title,
        "samples": shown.samples,
        "sampled_ms": shown.weight / 1000,
        "top_functions": function_rows(shown),
        "icicle": icicle(shown, title=title),
        "traces": [
            {"trace_id": trace_id, "samples": n, "ms": weight / 1000, "link": trace_link(trace_id)}
            for trace_id, n, weight in merged.profile.trace_ids()[:MAX_TRACES_SHOWN]
        ],
        "sampler_cpu_ms": merged.sampler_cpu_seconds * 1000,
        "process_cpu_ms": merged.process_cpu_seconds * 1000,
        "profiler_percent": (
            None if merged.profiler_cpu_share is None else merged.profiler_cpu_share * 100
        ),
    }
    if selection.compare_start is not None:
        before_merged = selection.profile(compared=True)
        before = selection.shown(before_merged)
        report.update(
            compared=before_merged,
            compared_samples=before.samples,
            differences=differences(before, shown),
            diff_icicle=icicle(
                shown,
                title=f"{title}: red grew, blue shrank against the other range",
                colour=_diff_colour(before, shown),
            ),
        )
    return report


def speedscope_document(selection: Selection) -> dict[str, Any]:
    """The selection (and the range it is compared with) in speedscope's format."""
    shown = selection.shown(selection.profile())
    name = f"continuous profile {selection.start:%Y-%m-%d %H:%M}-{selection.end:%H:%M} UTC"
    if selection.process or selection.role or selection.service:
        name += f", {selection.process or selection.role or selection.service}"
    if selection.trace:
        name += f", trace {selection.trace}"
    document = Document(name)
    document.add_samples(name, _seconds(shown), unit="seconds")
    if selection.compare_start is not None:
        before = selection.shown(selection.profile(compared=True))
        label = f"compared: {selection.compare_start:%Y-%m-%d %H:%M}-{selection.compare_end:%H:%M}"
        document.add_samples(label, _seconds(before), unit="seconds")
    return document.as_json()


def _seconds(profile: StackProfile):
    for keys, weight in profile.keyed():
        yield keys, weight / 1_000_000
