"""Admin for profiling: runs (start one with the add form, stop or repeat runs with actions,
read a run's results on its page: top functions, a small icicle graph, processes, captures
kept one by one, allocation sites, trace ids, downloads, and the run in speedscope), the
speedscope viewer itself (served to staff from the npm package's files), and continuous
profiling (its switch and rate, and the profile of a time range or the difference of two)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from telemetry.models import ContinuousProfileWindow, ContinuousProfiling, ProfilingRun
from telemetry.profiling import runs, viewer
from telemetry.profiling.continuous import report as continuous_report
from telemetry.profiling.continuous import spans, windows
from telemetry.profiling.continuous.config import announce_change, continuous_settings
from telemetry.profiling.forms import START_FIELDS, ProfilingRunStartForm, limit_message
from telemetry.profiling.report import (
    DOWNLOADS,
    run_download,
    run_report,
    speedscope_document,
    speedscope_response,
    trace_link,
)

MIN_SAMPLE_HZ, MAX_SAMPLE_HZ = 1, 250


def speedscope_viewer_base() -> str:
    """The admin path the speedscope viewer's files are served under (ends with a slash)."""
    return reverse("admin:telemetry_speedscope_viewer", args=["index.html"]).removesuffix(
        "index.html"
    )


def _int_param(request: HttpRequest, name: str) -> int | None:
    value = request.GET.get(name)
    if value is None:
        return None
    if not value.isdigit():
        raise Http404(f"{name} must be a number.")
    return int(value)


@admin.register(ProfilingRun)
class ProfilingRunAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "name",
        "target",
        "status",
        "captures",
        "max_captures",
        "sample_every",
        "clock",
        "memory",
        "started_at",
        "ended_at",
    )
    list_filter = ("status", "target", "clock")
    search_fields = ("name", "route_pattern", "task_pattern")
    actions = ["stop_runs", "start_again"]
    change_form_template = "admin/telemetry/profilingrun/change_form.html"

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs):
        if obj is None:
            kwargs["form"] = ProfilingRunStartForm
            kwargs["fields"] = START_FIELDS
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None):
        if obj is None:
            return START_FIELDS
        return (*START_FIELDS, "status", "status_reason", "captures", "created_by",
                "created_at", "started_at", "ended_at")  # fmt: skip

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None):
        # A run is what it was started with: results would not mean anything otherwise.
        return self.get_fields(request, obj) if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: ProfilingRun, form, change: bool) -> None:
        if change:
            return
        fields = {name: form.cleaned_data.get(name) for name in START_FIELDS}
        run = runs.run_start(created_by=request.user, **fields)
        obj.pk = run.pk
        obj.status = run.status

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:run_id>/download/<str:kind>/", wrap(self.download_view),
                 name="telemetry_profilingrun_download"),
            path("<int:run_id>/speedscope.json", wrap(self.speedscope_view),
                 name="telemetry_profilingrun_speedscope"),
            path("<int:run_id>/stop/", wrap(self.stop_view),
                 name="telemetry_profilingrun_stop"),
            path("speedscope/<str:name>", wrap(self.viewer_view),
                 name="telemetry_speedscope_viewer"),
            *super().get_urls(),
        ]  # fmt: skip

    def download_view(self, request: HttpRequest, run_id: int, kind: str) -> HttpResponse:
        if not self.has_view_permission(request) or kind not in DOWNLOADS:
            return HttpResponse(status=404)
        return run_download(get_object_or_404(ProfilingRun, pk=run_id), kind)

    def speedscope_view(self, request: HttpRequest, run_id: int) -> HttpResponse:
        """The run in speedscope's format: merged, ?process=role:host:pid, or ?capture=ID."""
        if not self.has_view_permission(request):
            return HttpResponse(status=404)
        run = get_object_or_404(ProfilingRun, pk=run_id)
        document = speedscope_document(
            run, process=request.GET.get("process"), capture_id=_int_param(request, "capture")
        )
        return speedscope_response(
            document, filename=f"profiling-run-{run.pk}.speedscope.json", attach=False
        )

    def viewer_view(self, request: HttpRequest, name: str) -> HttpResponseBase:
        if not self.has_view_permission(request):
            return HttpResponse(status=404)
        return viewer.serve_viewer_file(request, name)

    def speedscope_links(self, run: ProfilingRun, report: dict) -> dict:
        """Viewer links for the run merged, each process and each capture kept."""
        base = speedscope_viewer_base()
        profile = reverse("admin:telemetry_profilingrun_speedscope", args=[run.pk])

        def link(query: str, title: str) -> str:
            return viewer.viewer_link(base, profile + query, title=title, view="left-heavy")

        return {
            "viewer_installed": viewer.viewer_installed(),
            "speedscope_merged": link("", f"Profiling run {run.pk} (merged)"),
            "process_links": [
                (
                    result,
                    link(f"?process={quote(result.process)}", f"Run {run.pk}: {result.process}"),
                )
                for result in report["processes"]
            ],
            "capture_links": [
                (capture, link(f"?capture={capture.pk}", f"Run {run.pk}: capture {capture.pk}"))
                for capture in report["captures_kept"]
            ],
        }

    def stop_view(self, request: HttpRequest, run_id: int) -> HttpResponse:
        url = reverse("admin:telemetry_profilingrun_change", args=[run_id])
        if request.method != "POST" or not self.has_change_permission(request):
            return HttpResponseRedirect(url)
        if runs.run_stop(run_id=run_id):
            messages.success(request, f"Profiling run {run_id} stopped.")
        else:
            messages.warning(request, f"Profiling run {run_id} had already ended.")
        return HttpResponseRedirect(url)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict | None = None):  # fmt: skip
        runs.runs_advance()  # a run past its limits shows as ended, even if idle
        run = ProfilingRun.objects.filter(pk=object_id).first() if object_id.isdigit() else None
        extra_context = dict(extra_context or {})
        if run is not None:
            report = run_report(run)
            extra_context.update(report)
            extra_context.update(self.speedscope_links(run, report))
            extra_context["run"] = run
            extra_context["trace_viewer_configured"] = bool(settings.TRACE_VIEWER_URL)
        return super().change_view(request, object_id, form_url, extra_context)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        runs.runs_advance()
        return super().changelist_view(request, extra_context)

    @admin.action(description="Stop the selected runs")
    def stop_runs(self, request: HttpRequest, queryset: QuerySet[ProfilingRun]) -> None:
        stopped = sum(runs.run_stop(run_id=run.pk) for run in queryset)
        messages.success(request, f"Stopped {stopped} run(s).")

    @admin.action(description="Start a new run with the same settings as each selected run")
    def start_again(self, request: HttpRequest, queryset: QuerySet[ProfilingRun]) -> None:
        for run in queryset:
            fields = {name: getattr(run, name) for name in START_FIELDS if name != "starts_at"}
            runs.run_start(created_by=request.user, **fields)
        messages.success(request, f"Started {queryset.count()} run(s).")


# --- continuous profiling ---------------------------------------------------------------


class ContinuousProfilingForm(forms.ModelForm):
    class Meta:
        model = ContinuousProfiling
        fields = ("enabled", "sample_hz", "mode")

    sample_hz = forms.IntegerField(
        label="Samples per second",
        initial=19,
        help_text=ContinuousProfiling._meta.get_field("sample_hz").help_text,
    )

    def clean_sample_hz(self) -> int:
        # One message for both ends of the limit, as for a run's numbers.
        value = self.cleaned_data["sample_hz"]
        if not MIN_SAMPLE_HZ <= value <= MAX_SAMPLE_HZ:
            raise forms.ValidationError(limit_message(MIN_SAMPLE_HZ, MAX_SAMPLE_HZ))
        return value


@admin.register(ContinuousProfiling)
class ContinuousProfilingAdmin(admin.ModelAdmin):
    """The switch, rate and mode of continuous profiling (one row; every process obeys an
    edit within a second or two)."""

    form = ContinuousProfilingForm
    list_display = ("__str__", "in_force", "updated_by", "updated_at")
    fields = ("in_force", "enabled", "sample_hz", "mode", "updated_by", "updated_at")
    readonly_fields = ("in_force", "updated_by", "updated_at")

    @admin.display(description="what this web process does now")
    def in_force(self, obj: ContinuousProfiling | None = None) -> str:
        return continuous_settings.snapshot().summary

    def has_add_permission(self, request: HttpRequest) -> bool:
        # One row: the processes obey the first, so a second one would be ignored.
        return super().has_add_permission(request) and not ContinuousProfiling.objects.exists()

    def save_model(self, request: HttpRequest, obj: ContinuousProfiling, form, change) -> None:
        obj.updated_by = request.user if request.user.is_authenticated else None
        super().save_model(request, obj, form, change)
        announce_change()

    def delete_model(self, request: HttpRequest, obj: ContinuousProfiling) -> None:
        super().delete_model(request, obj)
        announce_change()

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        super().delete_queryset(request, queryset)
        announce_change()

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        # One row: its list is its form (or the add form while there is none).
        row = ContinuousProfiling.objects.order_by("pk").first()
        if row is None:
            return HttpResponseRedirect(reverse("admin:telemetry_continuousprofiling_add"))
        return HttpResponseRedirect(
            reverse("admin:telemetry_continuousprofiling_change", args=[row.pk])
        )


@admin.register(ContinuousProfileWindow)
class ContinuousProfileWindowAdmin(admin.ModelAdmin):
    """Continuous profiles: the list page is the profile of a time range (by service, role,
    process or trace), with the difference against another range, and the same in
    speedscope. Rows are written by the processes only."""

    change_list_template = "admin/telemetry/continuousprofilewindow/range.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("speedscope.json", wrap(self.speedscope_view),
                 name="telemetry_continuousprofilewindow_speedscope"),
            path("for-span/", wrap(self.span_view),
                 name="telemetry_continuousprofilewindow_for_span"),
            *super().get_urls(),
        ]  # fmt: skip

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = continuous_report.RangeForm(request.GET or None)
        context = {
            **self.admin_site.each_context(request),
            "title": "Continuous profiles",
            "opts": self.model._meta,
            "form": form,
            "choices": windows.choices(),
            "settings_in_force": continuous_settings.snapshot(),
        }
        if form.is_valid() or not request.GET:
            if not request.GET:
                form = continuous_report.RangeForm({"last": "15"})
                form.is_valid()
                context["form"] = form
            selection = continuous_report.Selection.from_form(form)
            context.update(continuous_report.range_report(selection, trace_link=trace_link))
            query = request.GET.urlencode()
            profile = reverse("admin:telemetry_continuousprofilewindow_speedscope")
            profile += f"?{query}" if query else ""
            context["speedscope_link"] = viewer.viewer_link(
                speedscope_viewer_base(), profile, title=context["title"], view="left-heavy"
            )
            context["viewer_installed"] = viewer.viewer_installed()
            context["selection"] = selection
        return TemplateResponse(request, self.change_list_template, context)

    def speedscope_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            return HttpResponse(status=404)
        form = continuous_report.RangeForm(request.GET or {"last": "15"})
        if not form.is_valid():
            return HttpResponse(form.errors.as_json(), status=400, content_type="application/json")
        document = continuous_report.speedscope_document(
            continuous_report.Selection.from_form(form)
        )
        return speedscope_response(document, filename="continuous.speedscope.json", attach=False)

    def span_view(self, request: HttpRequest) -> HttpResponse:
        """Where a span's `profiling.profile_id` leads: its process's window, narrowed to
        its trace when the trace id comes along."""
        parsed = spans.parse_profile_id(request.GET.get("profile_id", ""))
        if parsed is None:
            raise Http404("Not a profile id.")
        process, start = parsed
        window = settings.PROFILING_CONTINUOUS_WINDOW_SECONDS
        query = {
            "process": process,
            "start": datetime.fromtimestamp(start, tz=UTC).isoformat(),
            "end": datetime.fromtimestamp(start + window, tz=UTC).isoformat(),
        }
        trace_id = request.GET.get("trace_id", "")
        if trace_id:
            query["trace"] = trace_id
        url = reverse("admin:telemetry_continuousprofilewindow_changelist")
        return HttpResponseRedirect(f"{url}?{urlencode(query)}")
