"""The console's pages, included under /admin/telemetry/console/ by the site's URLconf
(namespace "console": the job admin, profiling pages and alert events link here by name)."""

from django.urls import path

from telemetry.explorer import views

app_name = "console"

urlpatterns = [
    path("", views.index, name="index"),
    path("traces/", views.traces, name="traces"),
    path("traces/<str:trace_id>/", views.trace, name="trace"),
    path("logs/", views.logs, name="logs"),
    path("overview/", views.overview, name="overview"),
]
