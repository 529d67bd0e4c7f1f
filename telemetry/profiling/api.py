"""REST API for profiling runs (admin users only): start, list, read, stop, download.

Input is validated by the same form as the admin's (telemetry.profiling.forms), so bad
input gets field errors in the API's one error shape, never a 500.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from common.api_errors import error_body
from telemetry.models import ProfilingRun
from telemetry.profiling import runs, storage
from telemetry.profiling.forms import START_FIELDS, validated_start_fields
from telemetry.profiling.report import (
    DOWNLOADS,
    run_download,
    run_table,
    speedscope_document,
    speedscope_response,
    trace_link,
)
from telemetry.profiling.table import function_label

TOP_FUNCTIONS = 20


def run_summary(run: ProfilingRun, request: Request) -> dict[str, Any]:
    """A run's settings and state, with the URLs of its detail and downloads."""
    data: dict[str, Any] = {name: getattr(run, name) for name in START_FIELDS}
    data["starts_at"] = run.starts_at.isoformat() if run.starts_at else None
    for name in ("started_at", "ended_at", "created_at"):
        value = getattr(run, name)
        data[name] = value.isoformat() if value else None
    url = reverse("telemetry:profiling-run-detail", kwargs={"run_id": run.pk}, request=request)
    data.update(
        id=run.pk,
        status=run.status,
        status_reason=run.status_reason,
        captures=run.captures,
        url=url,
        downloads={kind: f"{url}/{kind}" for kind in DOWNLOADS},
    )
    return data


def run_details(run: ProfilingRun, request: Request) -> dict[str, Any]:
    data = run_summary(run, request)
    table = run_table(run)  # as the run page and the downloads show it
    data["top_functions"] = [
        {
            "function": function_label(key),
            "file": key[0],
            "line": key[1],
            "name": key[2],
            "calls": costs.calls,
            "own_seconds": costs.own,
            "total_seconds": costs.total,
        }
        for key, costs in table.top(TOP_FUNCTIONS, by="own")
    ]
    url = data["url"]
    data["processes"] = [
        {
            "process": result.process,
            "captures": result.captures,
            "speedscope": f"{url}/speedscope?process={quote(result.process)}",
        }
        for result in run.results.order_by("process")
    ]
    data["captures_kept"] = [
        {
            "id": capture.pk,
            "process": capture.process,
            "label": capture.label,
            "trace_id": capture.trace_id or None,
            "started_at": capture.started_at.isoformat(),
            "duration_ms": capture.duration_ms,
            "speedscope": f"{url}/speedscope?capture={capture.pk}",
        }
        for capture in run.captures_kept.order_by("started_at", "pk")
    ]
    data["trace_ids"] = [
        {"trace_id": trace_id, "url": trace_link(trace_id) or None}
        for trace_id in storage.run_trace_ids(run)
    ]
    data["memory_sites"] = [
        {"site": site, "bytes": size, "allocations": count}
        for site, size, count in storage.merged_memory(run)
    ]
    return data


class ProfilingRunListApi(APIView):
    """GET: the latest runs. POST: start a run (201 with the run)."""

    permission_classes = [permissions.IsAdminUser]

    @extend_schema(
        operation_id="profiling_runs_list",
        responses={200: OpenApiTypes.OBJECT},
        summary="List the latest profiling runs",
    )
    def get(self, request: Request) -> Response:
        runs.runs_advance()
        latest = ProfilingRun.objects.order_by("-created_at")[:100]
        return Response({"results": [run_summary(run, request) for run in latest]})

    @extend_schema(
        operation_id="profiling_runs_start",
        request=OpenApiTypes.OBJECT,
        responses={201: OpenApiTypes.OBJECT},
        summary="Start a profiling run (fields as in docs/runs.md)",
    )
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise ValidationError({"non_field_errors": ["Expected a JSON object."]})
        fields, errors = validated_start_fields(request.data)
        if errors:
            raise ValidationError(errors)
        run = runs.run_start(created_by=request.user, **fields)
        body = run_summary(run, request)
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": body["url"]})


class ProfilingRunDetailApi(APIView):
    """GET: a run with its top functions, processes, trace ids and allocation sites."""

    permission_classes = [permissions.IsAdminUser]

    @extend_schema(
        operation_id="profiling_runs_retrieve",
        responses={200: OpenApiTypes.OBJECT},
        summary="A profiling run with its results",
    )
    def get(self, request: Request, run_id: int) -> Response:
        runs.runs_advance()
        run = get_object_or_404(ProfilingRun, pk=run_id)
        return Response(run_details(run, request))


class ProfilingRunStopApi(APIView):
    """POST: cancel a run; 409 when it had already ended."""

    permission_classes = [permissions.IsAdminUser]

    @extend_schema(
        operation_id="profiling_runs_stop",
        request=None,
        responses={200: OpenApiTypes.OBJECT},
        summary="Stop (cancel) a profiling run",
    )
    def post(self, request: Request, run_id: int) -> Response:
        run = get_object_or_404(ProfilingRun, pk=run_id)
        if not runs.run_stop(run_id=run.pk):
            return Response(
                error_body("already_ended", f"The run had already ended ({run.status})."),
                status=status.HTTP_409_CONFLICT,
            )
        run.refresh_from_db()
        return Response(run_summary(run, request))


class ProfilingRunDownloadApi(APIView):
    """GET: the run as a pstat, callgrind or speedscope file. speedscope also takes
    ?process=role:host:pid (one process) or ?capture=ID (one capture kept on its own)."""

    permission_classes = [permissions.IsAdminUser]

    @extend_schema(
        operation_id="profiling_runs_download",
        responses={200: OpenApiTypes.BINARY},
        summary="Download a run as pstat, callgrind or speedscope (kind)",
    )
    def get(self, request: Request, run_id: int, kind: str):
        if kind not in DOWNLOADS:
            raise NotFound("Downloads are pstat, callgrind and speedscope.")
        run = get_object_or_404(ProfilingRun, pk=run_id)
        process = request.query_params.get("process")
        capture = request.query_params.get("capture")
        if kind != "speedscope" or (process is None and capture is None):
            return run_download(run, kind)
        if capture is not None and not capture.isdigit():
            raise ValidationError({"capture": ["Must be the id of a capture of this run."]})
        document = speedscope_document(
            run, process=process, capture_id=int(capture) if capture is not None else None
        )
        return speedscope_response(
            document, filename=f"profiling-run-{run.pk}.speedscope.json", attach=True
        )
