"""The processing REST API: thin views over processing.services and processing.jobs."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from processing import jobs, selectors, services
from processing.analysis import enrichment_for
from processing.api.serializers import (
    EnrichInputSerializer,
    EnrichOutputSerializer,
    JobOutputSerializer,
    ProcessInputSerializer,
    ProcessOutputSerializer,
)


class ProcessApi(GenericAPIView):
    """Process data synchronously: analyse, enrich downstream, answer with the timing."""

    serializer_class = ProcessInputSerializer
    # common.openapi adds these to the errors every operation documents.
    error_responses = {502: "The downstream service failed or refused the request."}

    @extend_schema(request=ProcessInputSerializer, responses=ProcessOutputSerializer)
    def post(self, request: Request) -> Response:
        data = ProcessInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        outcome = services.process_data(**data.validated_data)
        return Response(ProcessOutputSerializer(outcome).data)


class JobListCreateApi(GenericAPIView):
    """Queue a processing job (202 + its URL); list the caller's jobs."""

    serializer_class = JobOutputSerializer

    @extend_schema(responses=JobOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.job_list_visible_to(request.user))
        data = JobOutputSerializer(page, many=True, context={"request": request}).data
        return self.get_paginated_response(data)

    @extend_schema(request=ProcessInputSerializer, responses={202: JobOutputSerializer})
    def post(self, request: Request) -> Response:
        data = ProcessInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = jobs.job_create(created_by=request.user, **data.validated_data)
        body = JobOutputSerializer(job, context={"request": request}).data
        location = reverse("processing:job-detail", kwargs={"job_id": job.pk}, request=request)
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": location})


class JobDetailApi(GenericAPIView):
    serializer_class = JobOutputSerializer

    def get(self, request: Request, job_id) -> Response:
        job = get_object_or_404(selectors.job_list_visible_to(request.user), pk=job_id)
        return Response(JobOutputSerializer(job, context={"request": request}).data)


class DownstreamEnrichApi(GenericAPIView):
    """Stand-in for an external enrichment API that /api/process calls over HTTP.

    Public: it holds no data and only computes from its input.
    """

    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []
    throttle_classes: list = []  # an external service's limits are its own
    serializer_class = EnrichInputSerializer

    @extend_schema(request=EnrichInputSerializer, responses=EnrichOutputSerializer)
    def post(self, request: Request) -> Response:
        data = EnrichInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(enrichment_for(data.validated_data))
