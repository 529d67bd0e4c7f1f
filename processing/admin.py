from django.contrib import admin

from processing.models import ProcessingJob


@admin.register(ProcessingJob)
class ProcessingJobAdmin(admin.ModelAdmin):
    list_display = ["id", "status", "attempts", "created_by", "queued_at", "finished_at"]
    list_filter = ["status", "queued_at"]
    search_fields = ["id", "created_by__email", "error"]
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
    ]

    def has_add_permission(self, request) -> bool:
        return False  # jobs are created through the API, which also queues them
