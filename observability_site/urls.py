from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from telemetry.probes import health, metrics_endpoint
from users.api.views import TokenLoginApi

handler400 = "common.api_errors.bad_request"
handler404 = "common.api_errors.not_found"
handler500 = "common.api_errors.server_error"


def index(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "service": settings.SERVICE_NAME,
            "version": settings.SERVICE_VERSION,
            "links": {
                "admin": "/admin/",
                "api_docs": "/api/docs/",
                "openapi_schema": "/api/schema/",
                "users": "/api/users",
                "process": "/api/process",
                "jobs": "/api/jobs",
                "health": "/health",
                "ready": "/ready",
                "metrics": "/metrics",
            },
        }
    )


urlpatterns = [
    path("", index, name="index"),
    path("health", health.health, name="health"),
    path("ready", health.ready, name="ready"),
    path("metrics", metrics_endpoint.metrics, name="prometheus-django-metrics"),
    # The console (telemetry.explorer): traces, logs and the service overview, staff only.
    path("admin/telemetry/console/", include("telemetry.explorer.urls")),
    path("admin/", admin.site.urls),
    path("api/auth/token", TokenLoginApi.as_view(), name="api-token"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include("users.urls")),
    path("api/", include("processing.urls")),
    path("api/telemetry/", include("telemetry.urls")),
]
