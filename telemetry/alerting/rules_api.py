"""REST API for alert rules and SLOs (staff only): list, create, read, update, delete, enable,
disable, their live state in Prometheus, an SLO's error budget, publishing, the publication
log and the audit trail.

Input is validated exactly as the admin validates it (telemetry.prometheus.validation, through
the models' clean()), errors come in the API's one error shape, and every write publishes the
rules to Prometheus as a save in the admin does: the response carries the publication (did
Prometheus load it?) next to the stored row.
"""

from __future__ import annotations

import contextlib
import copy
from typing import Any, cast

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import permissions, serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from common.openapi import ErrorSerializer
from telemetry.alerting import audit, budget, live
from telemetry.alerting.publication_state import PublicationHistory
from telemetry.alerting.state import PrometheusView
from telemetry.models import SLO, AlertingAuditEntry, AlertRule, RulePublication, Source
from telemetry.prometheus import validation


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    meaning = {
        400: "Invalid input: field errors, nothing stored",
        401: "Not authenticated",
        403: "Not staff",
        404: "No such row",
    }
    return {code: OpenApiResponse(ErrorSerializer, description=meaning[code]) for code in codes}


READ_ERRORS = _errors(401, 403)
ROW_ERRORS = _errors(401, 403, 404)
WRITE_ERRORS = _errors(400, 401, 403)
ROW_WRITE_ERRORS = _errors(400, 401, 403, 404)


class PublicationSerializer(serializers.ModelSerializer):
    class Meta:
        model = RulePublication
        fields = [
            "id",
            "outcome",
            "message",
            "started_at",
            "finished_at",
            "source",
            "actor_label",
            "reason",
            "rules_file",
            "prometheus_url",
            "rule_count",
            "sha256",
        ]
        read_only_fields = fields


class PublishStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["in_force", "pending", "failed", "off"])
    text = serializers.CharField()
    publication = serializers.IntegerField(allow_null=True)
    outcome = serializers.CharField(allow_null=True)


class _LiveRowSerializer(serializers.ModelSerializer):
    """A rule or SLO, validated by the model's own checks, with its publish status."""

    publish_status = serializers.SerializerMethodField()

    @extend_schema_field(PublishStatusSerializer)
    def get_publish_status(self, row: AlertRule | SLO) -> dict[str, Any]:
        history = self.context.get("history") or PublicationHistory.load()
        return history.state_of(row).as_dict()

    def field_errors(self, candidate: Model) -> dict[str, list[str]]:
        raise NotImplementedError

    def candidate(self, attrs: dict[str, Any]) -> Model:
        """The row these changes make: the stored one (if any) with `attrs` set, unsaved."""
        model: type[Model] = self.Meta.model
        row = copy.copy(self.instance) if self.instance else model()
        for name, value in attrs.items():
            setattr(row, name, value)
        return row

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # The same checks as the admin's form (Model.clean): names, durations, labels,
        # uniqueness, promtool. They need the whole row: the stored one with the changes.
        if errors := self.field_errors(self.candidate(attrs)):
            raise _field_errors(errors)
        return attrs


def _field_errors(errors: dict[str, list[str]]) -> serializers.ValidationError:
    return serializers.ValidationError(
        {("non_field_errors" if key == "__all__" else key): value for key, value in errors.items()}
    )


class AlertRuleSerializer(_LiveRowSerializer):
    class Meta:
        model = AlertRule
        fields = [
            "id",
            "group",
            "name",
            "expr",
            "for_duration",
            "severity",
            "labels",
            "summary",
            "description",
            "runbook",
            "enabled",
            "created_at",
            "updated_at",
            "publish_status",
        ]
        read_only_fields = ["id", "created_at", "updated_at", "publish_status"]
        # Uniqueness in a group is checked with the other rules (validation.rule_field_errors),
        # with the admin's message, on the name field.
        validators: list = []

    def field_errors(self, candidate: Model) -> dict[str, list[str]]:
        return validation.rule_field_errors(candidate)


class SLOSerializer(_LiveRowSerializer):
    class Meta:
        model = SLO
        fields = [
            "id",
            "name",
            "description",
            "objective",
            "window",
            "good_series",
            "total_series",
            "labels",
            "runbook",
            "enabled",
            "created_at",
            "updated_at",
            "publish_status",
        ]
        read_only_fields = ["id", "created_at", "updated_at", "publish_status"]
        # The name's uniqueness is checked in validate(), after the field checks (a NUL
        # character must never reach a database query).
        validators: list = []
        extra_kwargs: dict[str, dict[str, Any]] = {"name": {"validators": []}}

    def field_errors(self, candidate: Model) -> dict[str, list[str]]:
        errors = validation.slo_field_errors(candidate)
        try:
            candidate.validate_unique()
        except DjangoValidationError as exc:
            for name, messages in exc.message_dict.items():
                errors.setdefault(name, []).extend(messages)
        return errors


class AlertRuleWriteSerializer(AlertRuleSerializer):
    """A written rule and the publication its write made (schema of write responses)."""

    publication = PublicationSerializer(read_only=True)

    class Meta(AlertRuleSerializer.Meta):
        fields = [*AlertRuleSerializer.Meta.fields, "publication"]


class SLOWriteSerializer(SLOSerializer):
    publication = PublicationSerializer(read_only=True)

    class Meta(SLOSerializer.Meta):
        fields = [*SLOSerializer.Meta.fields, "publication"]


class DeletedSerializer(serializers.Serializer):
    deleted = serializers.IntegerField()
    publication = PublicationSerializer()


class AuditEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = AlertingAuditEntry
        fields = [
            "id",
            "at",
            "actor_label",
            "source",
            "action",
            "target_type",
            "target_id",
            "target_label",
            "changes",
            "detail",
            "publication",
        ]
        read_only_fields = fields


def _actor(request: Request) -> audit.Actor:
    return audit.Actor.from_request(request, Source.API)


def _publish(request: Request, reason: str) -> RulePublication:
    # After the row's transaction: the publish renders committed rows, under its lock.
    return live.publish_rules(actor=_actor(request), reason=reason)


class _RowApi(GenericAPIView):
    permission_classes = [permissions.IsAdminUser]
    model: type[Model]
    lookup_url_kwarg = "row_id"

    def get_queryset(self):
        return self.model._default_manager.all()

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "history": PublicationHistory.load()}

    def _locked_row(self) -> AlertRule | SLO:
        """The row of the URL, locked until the transaction ends (select_for_update): a
        concurrent write or delete of it waits, and one that came first makes this a 404."""
        queryset = self.get_queryset().select_for_update()
        row = get_object_or_404(queryset, pk=self.kwargs[self.lookup_url_kwarg])
        self.check_object_permissions(self.request, row)  # as get_object() does
        return row

    def _written(self, row: Model, publication: RulePublication, code: int) -> Response:
        # As stored (the database's own rounding); a concurrent delete since the commit
        # leaves the row as this request wrote it, which is what the client asked about.
        with contextlib.suppress(ObjectDoesNotExist):
            row.refresh_from_db()
        data = self.get_serializer(row).data
        data["publication"] = PublicationSerializer(publication).data
        return Response(data, status=code)

    def _save(self, *, stored: bool, partial: bool = False) -> Response:
        # One transaction from reading the stored row to the audit entry: validation sees
        # the row that is written over, and the audit the values it had.
        with transaction.atomic():
            instance = self._locked_row() if stored else None
            serializer = cast(
                _LiveRowSerializer,
                self.get_serializer(instance, data=self.request.data, partial=partial),
            )
            serializer.is_valid(raise_exception=True)
            before = audit.stored_values(instance) if instance else {}
            try:
                with transaction.atomic():
                    row = serializer.save()
            except IntegrityError:
                # A concurrent write took the name after it was checked: the check again,
                # now seeing that write, gives the same 400 as if it had come first.
                candidate = serializer.candidate(serializer.validated_data)
                if errors := serializer.field_errors(candidate):
                    raise _field_errors(errors) from None
                raise
            entry = audit.record_saved(actor=_actor(self.request), row=row, before=before)
        reason = f"{entry.action} {entry.target_label}" if entry else f"saved {row}"
        code = status.HTTP_200_OK if stored else status.HTTP_201_CREATED
        return self._written(row, _publish(self.request, reason), code)


class _RowListApi(_RowApi):
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def post(self, request: Request) -> Response:
        return self._save(stored=False)


class _RowDetailApi(_RowApi):
    def get(self, request: Request, row_id: int) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    def put(self, request: Request, row_id: int) -> Response:
        return self._save(stored=True)

    def patch(self, request: Request, row_id: int) -> Response:
        return self._save(stored=True, partial=True)

    def delete(self, request: Request, row_id: int) -> Response:
        with transaction.atomic():
            row = self._locked_row()
            entry = audit.record_deleted(actor=_actor(request), row=row)
            row_id = row.pk
            row.delete()
        publication = _publish(request, f"deleted {entry.target_label}")
        body = {"deleted": row_id, "publication": PublicationSerializer(publication).data}
        return Response(body)


class _RowSwitchApi(_RowApi):
    """POST: enable or disable one row (and publish)."""

    enable: bool

    def post(self, request: Request, row_id: int) -> Response:
        with transaction.atomic():
            row = self._locked_row()
            before = audit.stored_values(row)
            row.enabled = self.enable
            row.save(update_fields=["enabled", "updated_at"])
            entry = audit.record_saved(actor=_actor(request), row=row, before=before)
        verb = "enabled" if self.enable else "disabled"
        reason = f"{verb} {entry.target_label}" if entry else f"{verb} {row} (already)"
        return self._written(row, _publish(request, reason), status.HTTP_200_OK)


class _RowStateApi(_RowApi):
    """GET: what Prometheus holds of one row now (read live, PROMETHEUS_TIMEOUT at most).

    Prometheus down or not configured is part of the answer (reachable false, and why), as
    the admin shows it: the request itself worked."""

    def get(self, request: Request, row_id: int) -> Response:
        row = self.get_object()
        view = PrometheusView.fetch()
        state = view.slo_state(row) if isinstance(row, SLO) else view.rule_state(row)
        return Response({"id": row.pk, "prometheus_url": view.url, **state.as_dict()})


_STATE_RESPONSE = {
    200: OpenApiResponse(
        OpenApiTypes.OBJECT,
        description="The state; reachable false and problem when Prometheus cannot be asked",
    ),
    **_errors(401, 403, 404),
}


@extend_schema_view(
    get=extend_schema(
        summary="List alert rules", responses={200: AlertRuleSerializer(many=True), **READ_ERRORS}
    ),
    post=extend_schema(
        summary="Create an alert rule (and publish)",
        request=AlertRuleSerializer,
        responses={201: AlertRuleWriteSerializer, **WRITE_ERRORS},
    ),
)
class AlertRuleListApi(_RowListApi):
    model = AlertRule
    serializer_class = AlertRuleSerializer


@extend_schema_view(
    get=extend_schema(
        summary="Read an alert rule", responses={200: AlertRuleSerializer, **ROW_ERRORS}
    ),
    put=extend_schema(
        summary="Replace an alert rule (and publish)",
        request=AlertRuleSerializer,
        responses={200: AlertRuleWriteSerializer, **ROW_WRITE_ERRORS},
    ),
    patch=extend_schema(
        summary="Change an alert rule (and publish)",
        request=AlertRuleSerializer,
        responses={200: AlertRuleWriteSerializer, **ROW_WRITE_ERRORS},
    ),
    delete=extend_schema(
        summary="Delete an alert rule (and publish)",
        responses={200: DeletedSerializer, **ROW_ERRORS},
    ),
)
class AlertRuleDetailApi(_RowDetailApi):
    model = AlertRule
    serializer_class = AlertRuleSerializer


@extend_schema_view(
    post=extend_schema(
        summary="Enable an alert rule (and publish)",
        request=None,
        responses={200: AlertRuleWriteSerializer, **ROW_ERRORS},
    )
)
class AlertRuleEnableApi(_RowSwitchApi):
    model = AlertRule
    serializer_class = AlertRuleSerializer
    enable = True


@extend_schema_view(
    post=extend_schema(
        summary="Disable an alert rule (and publish)",
        request=None,
        responses={200: AlertRuleWriteSerializer, **ROW_ERRORS},
    )
)
class AlertRuleDisableApi(_RowSwitchApi):
    model = AlertRule
    serializer_class = AlertRuleSerializer
    enable = False


@extend_schema_view(
    get=extend_schema(summary="An alert rule's state in Prometheus", responses=_STATE_RESPONSE)
)
class AlertRuleStateApi(_RowStateApi):
    model = AlertRule
    serializer_class = AlertRuleSerializer


@extend_schema_view(
    get=extend_schema(
        summary="List SLOs", responses={200: SLOSerializer(many=True), **READ_ERRORS}
    ),
    post=extend_schema(
        summary="Create an SLO (and publish)",
        request=SLOSerializer,
        responses={201: SLOWriteSerializer, **WRITE_ERRORS},
    ),
)
class SLOListApi(_RowListApi):
    model = SLO
    serializer_class = SLOSerializer


@extend_schema_view(
    get=extend_schema(summary="Read an SLO", responses={200: SLOSerializer, **ROW_ERRORS}),
    put=extend_schema(
        summary="Replace an SLO (and publish)",
        request=SLOSerializer,
        responses={200: SLOWriteSerializer, **ROW_WRITE_ERRORS},
    ),
    patch=extend_schema(
        summary="Change an SLO (and publish)",
        request=SLOSerializer,
        responses={200: SLOWriteSerializer, **ROW_WRITE_ERRORS},
    ),
    delete=extend_schema(
        summary="Delete an SLO (and publish)", responses={200: DeletedSerializer, **ROW_ERRORS}
    ),
)
class SLODetailApi(_RowDetailApi):
    model = SLO
    serializer_class = SLOSerializer


@extend_schema_view(
    post=extend_schema(
        summary="Enable an SLO (and publish)",
        request=None,
        responses={200: SLOWriteSerializer, **ROW_ERRORS},
    )
)
class SLOEnableApi(_RowSwitchApi):
    model = SLO
    serializer_class = SLOSerializer
    enable = True


@extend_schema_view(
    post=extend_schema(
        summary="Disable an SLO (and publish)",
        request=None,
        responses={200: SLOWriteSerializer, **ROW_ERRORS},
    )
)
class SLODisableApi(_RowSwitchApi):
    model = SLO
    serializer_class = SLOSerializer
    enable = False


@extend_schema_view(
    get=extend_schema(summary="An SLO's rules in Prometheus", responses=_STATE_RESPONSE)
)
class SLOStateApi(_RowStateApi):
    model = SLO
    serializer_class = SLOSerializer


class SLOBudgetApi(_RowApi):
    """GET: the SLO's error budget left, burn rates and budget over time, from Prometheus."""

    model = SLO
    serializer_class = SLOSerializer

    @extend_schema(
        summary="An SLO's error budget (Pyrra-style), from Prometheus",
        parameters=[
            OpenApiParameter(
                "range",
                str,
                required=False,
                enum=[*budget.CHART_RANGES],
                description="chart range; default the SLO window",
            )
        ],
        responses=_STATE_RESPONSE,
    )
    def get(self, request: Request, row_id: int) -> Response:
        slo = self.get_object()
        figures = budget.slo_budget(slo, chart_range=request.query_params.get("range"))
        return Response(
            {
                "id": slo.pk,
                "objective": str(slo.objective),
                "window": slo.window,
                **figures.as_dict(),
            }
        )


class PublishRulesApi(GenericAPIView):
    """POST: publish the enabled rules and SLOs now (e.g. once Prometheus is back)."""

    permission_classes = [permissions.IsAdminUser]
    serializer_class = PublicationSerializer

    @extend_schema(
        summary="Publish the rules to Prometheus now",
        request=None,
        responses={200: PublicationSerializer, **READ_ERRORS},
    )
    def post(self, request: Request) -> Response:
        publication = _publish(request, "published through the API")
        return Response(PublicationSerializer(publication).data)


class PublicationListApi(GenericAPIView):
    """GET: the publication log, newest first."""

    permission_classes = [permissions.IsAdminUser]
    serializer_class = PublicationSerializer
    queryset = RulePublication.objects.all()

    @extend_schema(
        summary="List rule publications",
        responses={200: PublicationSerializer(many=True), **READ_ERRORS},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class AuditTrailApi(GenericAPIView):
    """GET: the alerting audit trail, newest first."""

    permission_classes = [permissions.IsAdminUser]
    serializer_class = AuditEntrySerializer
    queryset = AlertingAuditEntry.objects.all()

    @extend_schema(
        summary="List the alerting audit trail",
        responses={200: AuditEntrySerializer(many=True), **READ_ERRORS},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
