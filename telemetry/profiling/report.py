"""What a profiling run's pages show, computed from its stored results: the summary the
admin page renders, the trace links, the downloads (pstat, callgrind, speedscope) and the
speedscope documents of the run merged, per process and per capture (admin and API).

Every table here is the stored one with the run's choice for import frames applied
(telemetry.profiling.table_filters); the profiler's own functions never reached storage.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.utils.safestring import mark_safe

from telemetry.models import ProfilingCapture, ProfilingRun
from telemetry.profiling import call_tree, export_formats, flamegraph, storage, table_filters
from telemetry.profiling.speedscope import Document
from telemetry.profiling.table import ProfileTable, function_label

TOP_FUNCTIONS = 30
DOWNLOADS = ("pstat", "callgrind", "speedscope")


def run_table(run: ProfilingRun, *, process: str | None = None) -> ProfileTable:
    """The run's table (merged, or one process's), import frames as the run chose."""
    if process is None:
        table = storage.merged_table(run)
    else:
        result = run.results.filter(process=process).first()
        if result is None:
            raise Http404("No such process in this run.")
        table = ProfileTable.from_json(result.profile)
    return table_filters.with_import_frames(table, run.import_frames)


def capture_table(run: ProfilingRun, capture_id: int) -> tuple[ProfilingCapture, ProfileTable]:
    capture = run.captures_kept.filter(pk=capture_id).first()
    if capture is None:
        raise Http404("No such capture in this run.")
    # Stored as yappi read it (cleaning on the request's thread would cost it milliseconds).
    table = table_filters.as_captured(ProfileTable.from_json(capture.profile))
    return capture, table_filters.with_import_frames(table, run.import_frames)


def speedscope_document(
    run: ProfilingRun, *, process: str | None = None, capture_id: int | None = None
) -> dict[str, Any]:
    """The run (merged), one of its processes, or one kept capture, for speedscope."""
    if capture_id is not None:
        capture, table = capture_table(run, capture_id)
        name = f"run {run.pk}, capture {capture.pk}: {capture.label or capture.process}"
    elif process is not None:
        table = run_table(run, process=process)
        name = f"run {run.pk}, {process}"
    else:
        table = run_table(run)
        name = f"run {run.pk}: {run.target}, merged over {run.results.count()} process(es)"
    document = Document(name)
    document.add_tree(f"{name} ({run.clock} clock)", call_tree.unfold(table))
    return document.as_json()


def speedscope_response(document: dict[str, Any], *, filename: str, attach: bool) -> HttpResponse:
    response = HttpResponse(json.dumps(document, separators=(",", ":")), "application/json")
    disposition = "attachment" if attach else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    return response


def run_download(run: ProfilingRun, kind: str) -> HttpResponse:
    """The run's merged table as a pstat, callgrind or speedscope file (admin and API)."""
    if kind == "speedscope":
        return speedscope_response(
            speedscope_document(run),
            filename=f"profiling-run-{run.pk}.speedscope.json",
            attach=True,
        )
    table = run_table(run)
    if kind == "pstat":
        response = HttpResponse(export_formats.to_pstats(table), "application/octet-stream")
        filename = f"profiling-run-{run.pk}.pstat"
    else:
        text = export_formats.to_callgrind(table, title=f"profiling run {run.pk}")
        response = HttpResponse(text, "text/plain; charset=utf-8")
        filename = f"callgrind.out.profiling-run-{run.pk}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def trace_link(trace_id: str) -> str:
    """The trace viewer URL of a trace id when TRACE_VIEWER_URL is set, else its page in the
    console (the local telemetry store, by URL name: telemetry.explorer)."""
    template = getattr(settings, "TRACE_VIEWER_URL", "")
    return (
        template.replace("{trace_id}", trace_id)
        if template
        else reverse("console:trace", args=[trace_id])
    )


def run_report(run: ProfilingRun) -> dict[str, Any]:
    """Everything the run's admin page shows, computed from the stored results."""
    table = run_table(run)
    svg = flamegraph.render_svg(table, title=f"Profiling run {run.pk}: {run.target}")
    total_own = table_filters.total_time(table) or 1.0
    rows = [
        {
            "function": function_label(key),
            "calls": costs.calls,
            "own_ms": costs.own * 1000,
            "total_ms": costs.total * 1000,
            "own_share": costs.own / total_own,
        }
        for key, costs in table.top(TOP_FUNCTIONS, by="own")
    ]
    hottest = table.hottest()
    return {
        "top_functions": rows,
        "total_ms": table_filters.total_time(table) * 1000,
        "hottest": function_label(hottest) if hottest else "",
        # Built by render_svg from escaped text only.
        "flamegraph_svg": mark_safe(svg),
        "processes": list(run.results.order_by("process")),
        "captures_kept": list(run.captures_kept.order_by("started_at", "pk")),
        "memory_sites": storage.merged_memory(run),
        "trace_ids": [(tid, trace_link(tid)) for tid in storage.run_trace_ids(run)],
    }
