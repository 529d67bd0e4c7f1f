from django.urls import path

from telemetry.views import AlertEventListApi, AlertmanagerWebhookApi

app_name = "telemetry"

urlpatterns = [
    path(
        "alertmanager/webhook",
        AlertmanagerWebhookApi.as_view(),
        name="alertmanager-webhook",
    ),
    path("alert-events", AlertEventListApi.as_view(), name="alert-events"),
]
