"""HTTP endpoints of telemetry: the Alertmanager webhook and a read-only list of its events."""

from __future__ import annotations

import hmac
import logging

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api_errors import error_body
from telemetry.alerting import intake
from telemetry.models import AlertEvent

logger = logging.getLogger(__name__)


class AlertmanagerWebhookApi(APIView):
    """POST: an Alertmanager webhook notification, authenticated with a bearer token.

    Alertmanager is not a user, so the API's token/session authentication does not apply:
    the shared secret ALERTMANAGER_WEBHOOK_TOKEN does.
    """

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    # Beside the errors every operation documents (common.openapi).
    error_responses = {401: "Missing or wrong bearer token.", 503: "Webhook not configured."}

    @extend_schema(
        request=intake.NotificationSerializer,
        responses={200: OpenApiTypes.OBJECT},
        auth=[],
        summary="Receive an Alertmanager webhook notification (bearer token)",
    )
    def post(self, request: Request) -> Response:
        expected = settings.ALERTMANAGER_WEBHOOK_TOKEN
        if not expected:
            return Response(
                error_body(
                    "webhook_not_configured",
                    "The Alertmanager webhook is disabled: set ALERTMANAGER_WEBHOOK_TOKEN "
                    "(or ALERTMANAGER_WEBHOOK_TOKEN_FILE) and give Alertmanager the same token.",
                ),
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
            )
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), expected.encode()
        ):
            return Response(
                error_body("not_authenticated", "A valid bearer token is required."),
                status=status.HTTP_401_UNAUTHORIZED,
                headers={"WWW-Authenticate": 'Bearer realm="alertmanager-webhook"'},
            )
        notification = intake.parse_notification(request.data)
        events = intake.record_notification(notification)
        logger.info(
            "alertmanager notification stored",
            extra={
                "receiver": notification["receiver"],
                "status": notification["status"],
                "alerts": len(events),
            },
        )
        return Response({"stored": [event.pk for event in events]})


class AlertEventFilterSerializer(serializers.Serializer):
    alertname = serializers.CharField(required=False, max_length=200)


class AlertEventListApi(APIView):
    """GET: the latest alert events (staff only), newest first; ?alertname= filters."""

    permission_classes = [permissions.IsAdminUser]

    @extend_schema(
        parameters=[OpenApiParameter("alertname", str, required=False)],
        responses={200: OpenApiTypes.OBJECT},
        summary="List the latest alert events",
    )
    def get(self, request: Request) -> Response:
        # Through a serializer: it refuses what the database cannot hold (a NUL character
        # made PostgreSQL raise, found by the fuzzing test), as a 400 with field errors.
        filters = AlertEventFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        events = AlertEvent.objects.all()
        if alertname := filters.validated_data.get("alertname"):
            events = events.filter(alertname=alertname)
        return Response({"results": [event.as_dict() for event in events[:100]]})
