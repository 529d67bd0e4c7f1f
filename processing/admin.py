from django.conf import settings
from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from processing.models import ProcessingJob


@admin.register(ProcessingJob)
class ProcessingJobAdmin(admin.ModelAdmin):
    list_display = ["id", "status", "attempts", "created_by", "queued_at", "finished_at", "trace"]
    list_filter = ["status", "queued_at"]
    search_fields = ["id", "created_by__email", "error", "trace_id"]
    date_hierarchy = "queued_at"
    list_select_related = ["created_by"]
    readonly_fields = [
        "id",
        "created_by",
        "data",
        "status",
        "result",
        "error",
        "attempts",
        "queued_at",
        "started_at",
        "finished_at",
        "trace",
    ]
    exclude = ["trace_id"]  # shown as `trace`, a link to the console's trace page

    @admin.display(description="trace", ordering="trace_id")
    def trace(self, job: ProcessingJob) -> str:
        """The job's trace id, linked to its page in the console (the local telemetry store,
        found by URL name: processing does not import telemetry), and to the external trace
        viewer when TRACE_VIEWER_URL is set."""
        if not job.trace_id:
            return "-"
        try:
            console = reverse("console:trace", args=[job.trace_id])
        except NoReverseMatch:  # the console is not installed
            console = ""
        viewer = getattr(settings, "TRACE_VIEWER_URL", "")
        external = viewer.replace("{trace_id}", job.trace_id) if viewer else ""
        if not (console or external):
            return job.trace_id
        link = format_html(
            '<a href="{}" class="job-trace-link">{}</a>', console or external, job.trace_id
        )
        if console and external:
            viewer_link = format_html(
                '<a href="{}" target="_blank" rel="noopener">trace viewer</a>', external
            )
            return format_html("{} ({})", link, viewer_link)
        return link

    def has_add_permission(self, request) -> bool:
        return False  # jobs are created through the API, which also queues them

    def has_change_permission(self, request, obj=None) -> bool:
        # A job's state is the worker's to change: its page is read-only (no Save buttons);
        # staff still view it, and may delete it.
        return False
