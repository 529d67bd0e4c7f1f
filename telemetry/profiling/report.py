"""What a profiling run's pages show, computed from its stored results: the summary the
admin page renders, the trace links, and the pstat/callgrind downloads (admin and API)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.urls import reverse
from django.utils.safestring import mark_safe

from telemetry.models import ProfilingRun
from telemetry.profiling import export_formats, flamegraph, storage
from telemetry.profiling.table import function_label

TOP_FUNCTIONS = 30


def run_download(run: ProfilingRun, kind: str) -> HttpResponse:
    """The run's merged table as a pstat or callgrind file (shared with the REST API)."""
    table = storage.merged_table(run)
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
    table = storage.merged_table(run)
    svg = flamegraph.render_svg(table, title=f"Profiling run {run.pk}: {run.target}")
    total_own = sum(costs.own for costs in table.functions.values()) or 1.0
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
        "hottest": function_label(hottest) if hottest else "",
        # Built by render_svg from escaped text only.
        "flamegraph_svg": mark_safe(svg),
        "processes": list(run.results.order_by("process")),
        "memory_sites": storage.merged_memory(run),
        "trace_ids": [(tid, trace_link(tid)) for tid in storage.run_trace_ids(run)],
    }
