"""Admin for alerting: rules and SLOs are edited here (validated on save, with promtool where
installed) and downloaded as a rule file; alert events are read-only."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.html import format_html

from telemetry.alerting import publish
from telemetry.explorer import links as explorer_links
from telemetry.models import SLO, AlertEvent, AlertRule
from telemetry.prometheus import validation


def _rule_file_response(text: str, stem: str) -> HttpResponse:
    response = HttpResponse(text, content_type="application/yaml; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="{stem}-{stamp}.yml"'
    return response


class _WarnWhenUncheckedMixin:
    def save_model(self, request: HttpRequest, obj, form, change: bool) -> None:
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        if notice := validation.expression_check_notice():
            messages.warning(request, notice)


@admin.register(AlertRule)
class AlertRuleAdmin(_WarnWhenUncheckedMixin, admin.ModelAdmin):
    list_display = ("name", "group", "severity", "for_duration", "enabled", "updated_at")
    list_filter = ("enabled", "severity", "group")
    search_fields = ("name", "group", "expr", "summary")
    list_editable = ("enabled",)
    actions = ["download_rule_file"]
    fieldsets = (
        (None, {"fields": ("group", "name", "enabled", "severity")}),
        ("Condition", {"fields": ("expr", "for_duration")}),
        ("Labels and annotations", {"fields": ("labels", "summary", "description")}),
    )

    @admin.action(description="Download the selected enabled rules as a Prometheus rule file")
    def download_rule_file(
        self, request: HttpRequest, queryset: QuerySet[AlertRule]
    ) -> HttpResponse:
        text = publish.render_rule_file(rules=queryset.filter(enabled=True), slos=[])
        return _rule_file_response(text, "alert_rules")


@admin.register(SLO)
class SLOAdmin(_WarnWhenUncheckedMixin, admin.ModelAdmin):
    list_display = ("name", "objective", "window", "enabled", "updated_at")
    list_filter = ("enabled",)
    search_fields = ("name", "description")
    actions = ["download_rule_file"]

    @admin.action(description="Download the selected enabled SLOs' rules as a Prometheus rule file")
    def download_rule_file(self, request: HttpRequest, queryset: QuerySet[SLO]) -> HttpResponse:
        text = publish.render_rule_file(rules=[], slos=queryset.filter(enabled=True))
        return _rule_file_response(text, "slo_rules")


@admin.register(AlertEvent)
class AlertEventAdmin(admin.ModelAdmin):
    list_display = (
        "alertname",
        "status",
        "severity",
        "starts_at",
        "ends_at",
        "notifications",
        "last_received_at",
        "traces",
    )
    list_filter = ("status", "severity", "alertname")
    search_fields = ("alertname", "fingerprint")
    date_hierarchy = "starts_at"
    readonly_fields = [field.name for field in AlertEvent._meta.fields]

    @admin.display(description="traces")
    def traces(self, event: AlertEvent) -> str:
        """The console's traces of the event's route while it fired (telemetry.explorer)."""
        url = explorer_links.alert_event_traces_url(event)
        return format_html('<a href="{}">traces</a>', url) if url else "-"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # events come from Alertmanager only

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
