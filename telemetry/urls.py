from django.urls import path

from telemetry.alerting.api import AlertEventListApi, AlertmanagerWebhookApi
from telemetry.profiling.api import (
    ProfilingRunDetailApi,
    ProfilingRunDownloadApi,
    ProfilingRunListApi,
    ProfilingRunStopApi,
)

app_name = "telemetry"

urlpatterns = [
    path(
        "alertmanager/webhook",
        AlertmanagerWebhookApi.as_view(),
        name="alertmanager-webhook",
    ),
    path("alert-events", AlertEventListApi.as_view(), name="alert-events"),
    # Profiling runs (admin users only): telemetry.profiling.api.
    path("profiling-runs", ProfilingRunListApi.as_view(), name="profiling-run-list"),
    path(
        "profiling-runs/<int:run_id>",
        ProfilingRunDetailApi.as_view(),
        name="profiling-run-detail",
    ),
    path(
        "profiling-runs/<int:run_id>/stop",
        ProfilingRunStopApi.as_view(),
        name="profiling-run-stop",
    ),
    path(
        "profiling-runs/<int:run_id>/<str:kind>",
        ProfilingRunDownloadApi.as_view(),
        name="profiling-run-download",
    ),
]
