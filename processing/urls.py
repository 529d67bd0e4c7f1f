from django.urls import path

from processing.api.views import DownstreamEnrichApi, JobDetailApi, JobListCreateApi, ProcessApi

app_name = "processing"

urlpatterns = [
    path("process", ProcessApi.as_view(), name="process"),
    path("jobs", JobListCreateApi.as_view(), name="job-list"),
    path("jobs/<uuid:job_id>", JobDetailApi.as_view(), name="job-detail"),
    path("downstream/enrich", DownstreamEnrichApi.as_view(), name="downstream-enrich"),
]
