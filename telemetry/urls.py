from django.urls import path

from telemetry.alerting import rules_api
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
    # Alert rules and SLOs (staff only), each write published to Prometheus: rules_api.
    path("alert-rules", rules_api.AlertRuleListApi.as_view(), name="alert-rule-list"),
    path("alert-rules/publish", rules_api.PublishRulesApi.as_view(), name="alert-rules-publish"),
    path(
        "alert-rules/<int:row_id>", rules_api.AlertRuleDetailApi.as_view(), name="alert-rule-detail"
    ),
    path(
        "alert-rules/<int:row_id>/enable",
        rules_api.AlertRuleEnableApi.as_view(),
        name="alert-rule-enable",
    ),
    path(
        "alert-rules/<int:row_id>/disable",
        rules_api.AlertRuleDisableApi.as_view(),
        name="alert-rule-disable",
    ),
    path(
        "alert-rules/<int:row_id>/state",
        rules_api.AlertRuleStateApi.as_view(),
        name="alert-rule-state",
    ),
    path("slos", rules_api.SLOListApi.as_view(), name="slo-list"),
    path("slos/<int:row_id>", rules_api.SLODetailApi.as_view(), name="slo-detail"),
    path("slos/<int:row_id>/enable", rules_api.SLOEnableApi.as_view(), name="slo-enable"),
    path("slos/<int:row_id>/disable", rules_api.SLODisableApi.as_view(), name="slo-disable"),
    path("slos/<int:row_id>/state", rules_api.SLOStateApi.as_view(), name="slo-state"),
    path("slos/<int:row_id>/budget", rules_api.SLOBudgetApi.as_view(), name="slo-budget"),
    path(
        "alert-rule-publications",
        rules_api.PublicationListApi.as_view(),
        name="alert-rule-publications",
    ),
    path("alerting-audit", rules_api.AuditTrailApi.as_view(), name="alerting-audit"),
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
