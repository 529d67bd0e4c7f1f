"""Admin for alerting. Rules and SLOs are edited here (validated on save, with promtool where
installed) and go live at once: every save, enable, disable or delete publishes the rules to
Prometheus (telemetry.alerting.live) and says how it went. Each row shows whether Prometheus
has it loaded, its state and since when (read live); an SLO's page shows its error budget.
Alert events are read-only, beside their rule, runbook and example traces. The audit trail and
the publication log are read-only too."""

from __future__ import annotations

import contextvars
from functools import cached_property

from django.conf import settings
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from telemetry.alerting import audit, budget, links, live, publish, runbooks
from telemetry.alerting.publication_state import PublicationHistory
from telemetry.alerting.state import PrometheusView
from telemetry.explorer import links as explorer_links
from telemetry.models import (
    SLO,
    AlertEvent,
    AlertingAuditEntry,
    AlertRule,
    PublicationOutcome,
    RulePublication,
    Source,
)
from telemetry.prometheus import validation
from telemetry.prometheus.rule_files import download_header


def _rule_file_response(text: str, stem: str) -> HttpResponse:
    response = HttpResponse(text, content_type="application/yaml; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="{stem}-{stamp}.yml"'
    return response


def _download_header(request: HttpRequest, what: str) -> str:
    when = timezone.now().strftime("%Y-%m-%d %H:%M:%S UTC")
    return download_header(request.user.get_username(), when, what)


def report_publication(request: HttpRequest, publication: RulePublication) -> None:
    """The admin message saying what became of a publication."""
    text = f"Publication #{publication.pk}: {publication.message}"
    if publication.outcome == PublicationOutcome.LIVE:
        messages.success(request, text)
    elif publication.outcome in (PublicationOutcome.WRITTEN, PublicationOutcome.NOT_CONFIGURED):
        messages.warning(request, text)
    else:
        messages.error(request, f"Saved, but not in force. {text}")


class _PageState:
    """What one list page shows beside its rows, fetched once and only if a row needs it."""

    @cached_property
    def prometheus(self) -> PrometheusView:
        return PrometheusView.fetch()

    @cached_property
    def history(self) -> PublicationHistory:
        return PublicationHistory.load()


# Set for the duration of one changelist request; admin instances are shared across threads.
_page: contextvars.ContextVar[_PageState | None] = contextvars.ContextVar(
    "alerting_admin_page", default=None
)


def _page_state() -> _PageState:
    return _page.get() or _PageState()


class _LiveRulesAdmin(admin.ModelAdmin):
    """Saving, deleting, enabling or disabling rows records who did it and publishes the
    rules once the view's transaction is over (once per request, however many rows changed).

    The publish runs when the admin's view returns: its transaction has committed by then,
    and its response is not sent yet, so the outcome shows as a message on the next page."""

    def _actor(self, request: HttpRequest) -> audit.Actor:
        return audit.Actor.from_request(request, Source.ADMIN)

    def _schedule_publish(self, request: HttpRequest, reason: str) -> None:
        reasons = getattr(request, "_alerting_publish_reasons", None)
        if reasons is None:
            reasons = request._alerting_publish_reasons = []  # type: ignore[attr-defined]
        reasons.append(reason)

    def _publish_scheduled(self, request: HttpRequest) -> None:
        reasons = getattr(request, "_alerting_publish_reasons", None)
        if not reasons:
            return
        del request._alerting_publish_reasons  # type: ignore[attr-defined]
        publication = live.publish_rules(actor=self._actor(request), reason="; ".join(reasons))
        report_publication(request, publication)

    def changeform_view(self, request: HttpRequest, *args, **kwargs):
        response = super().changeform_view(request, *args, **kwargs)
        self._publish_scheduled(request)
        return response

    def delete_view(self, request: HttpRequest, *args, **kwargs):
        response = super().delete_view(request, *args, **kwargs)
        self._publish_scheduled(request)
        return response

    def save_model(self, request: HttpRequest, obj, form, change: bool) -> None:
        before = audit.stored_values(obj) if change else {}
        super().save_model(request, obj, form, change)
        entry = audit.record_saved(actor=self._actor(request), row=obj, before=before)
        if entry is not None:
            self._schedule_publish(request, f"{entry.action} {entry.target_label}")
        if notice := validation.expression_check_notice():
            messages.warning(request, notice)
        name = (obj.runbook or "").strip()
        if (
            name
            and not name.startswith(("http://", "https://"))
            and not runbooks.runbook_path(name)
        ):
            messages.warning(
                request,
                f"There is no runbook page {name!r} in {settings.ALERT_RUNBOOKS_DIR}: its "
                f"runbook_url will not open. Add docs/runbooks/{name}.md or give a URL.",
            )

    def delete_model(self, request: HttpRequest, obj) -> None:
        entry = audit.record_deleted(actor=self._actor(request), row=obj)
        super().delete_model(request, obj)
        self._schedule_publish(request, f"deleted {entry.target_label}")

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        with transaction.atomic():
            labels = [
                audit.record_deleted(actor=self._actor(request), row=obj).target_label
                for obj in queryset
            ]
            super().delete_queryset(request, queryset)
            self._schedule_publish(request, f"deleted {', '.join(labels)}")

    def _set_enabled(self, request: HttpRequest, queryset: QuerySet, enabled: bool) -> None:
        with transaction.atomic():
            changed = []
            for obj in queryset.select_for_update():
                if obj.enabled == enabled:
                    continue
                before = audit.stored_values(obj)
                obj.enabled = enabled
                obj.save(update_fields=["enabled", "updated_at"])
                entry = audit.record_saved(actor=self._actor(request), row=obj, before=before)
                changed.append(entry.target_label if entry else str(obj))
            if not changed:
                messages.info(request, "Nothing to change: they already were.")
                return
            verb = "enabled" if enabled else "disabled"
            self._schedule_publish(request, f"{verb} {', '.join(changed)}")

    @admin.action(description="Enable the selected rows (and publish)")
    def enable_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable the selected rows (and publish)")
    def disable_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_enabled(request, queryset, False)

    # --- what each row shows of Prometheus and of the publication log
    def _state(self, obj):
        view = _page_state().prometheus
        return view.slo_state(obj) if isinstance(obj, SLO) else view.rule_state(obj)

    @admin.display(description="in Prometheus")
    def in_prometheus(self, obj) -> str:
        state = self._state(obj)
        css = "color:#ba2121" if not state.loaded or state.health == "err" else ""
        return format_html(
            '<span class="prometheus-loaded" style="{}">{}</span>', css, state.loaded_text
        )

    @admin.display(description="state")
    def prometheus_state(self, obj) -> str:
        state = self._state(obj)
        css = {"firing": "color:#ba2121;font-weight:bold", "pending": "color:#b8860b"}
        return format_html(
            '<span class="prometheus-state" style="{}">{}</span>',
            css.get(state.state, ""),
            state.state_text,
        )

    @admin.display(description="published")
    def publish_status(self, obj) -> str:
        status = _page_state().history.state_of(obj)
        return format_html(
            '<span class="publish-status" title="{}">{}</span>',
            status.text,
            status.status.replace("_", " "),
        )

    def changelist_view(self, request: HttpRequest, extra_context=None):
        token = _page.set(_PageState())
        try:
            extra = {"going_live": live.going_live_configured(), **(extra_context or {})}
            response = super().changelist_view(request, extra)
            # The list's enabled switches and the actions (delete, enable, disable).
            self._publish_scheduled(request)
            if isinstance(response, TemplateResponse):
                response.render()  # while the page state is set
            return response
        finally:
            _page.reset(token)

    def _live_context(self, obj) -> dict:
        page = _PageState()
        state = (
            page.prometheus.slo_state(obj)
            if isinstance(obj, SLO)
            else page.prometheus.rule_state(obj)
        )
        return {
            "prometheus_state": state,
            "prometheus_url": page.prometheus.url,
            "publish_status": page.history.state_of(obj),
            "going_live": live.going_live_configured(),
            "audit_entries": AlertingAuditEntry.objects.filter(
                target_type=audit.target_type(obj), target_id=obj.pk
            )[:10],
        }

    def get_urls(self):
        return [
            path(
                "publish/",
                self.admin_site.admin_view(self.publish_view),
                name=f"{self.opts.app_label}_{self.opts.model_name}_publish",
            ),
            *super().get_urls(),
        ]

    def publish_view(self, request: HttpRequest) -> HttpResponse:
        """POST: publish the rules now (e.g. once Prometheus is back)."""
        if request.method != "POST" or not self.has_change_permission(request):
            raise Http404
        publication = live.publish_rules(
            actor=self._actor(request), reason="published from the admin"
        )
        report_publication(request, publication)
        return HttpResponseRedirect(
            reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
        )


@admin.register(AlertRule)
class AlertRuleAdmin(_LiveRulesAdmin):
    list_display = (
        "name",
        "group",
        "severity",
        "for_duration",
        "enabled",
        "in_prometheus",
        "prometheus_state",
        "publish_status",
        "updated_at",
    )
    list_filter = ("enabled", "severity", "group")
    search_fields = ("name", "group", "expr", "summary")
    list_editable = ("enabled",)
    actions = ["enable_selected", "disable_selected", "download_rule_file"]
    fieldsets = (
        (None, {"fields": ("group", "name", "enabled", "severity")}),
        ("Condition", {"fields": ("expr", "for_duration")}),
        ("Labels and annotations", {"fields": ("labels", "summary", "description", "runbook")}),
    )

    @admin.action(description="Download the selected enabled rules as a Prometheus rule file")
    def download_rule_file(
        self, request: HttpRequest, queryset: QuerySet[AlertRule]
    ) -> HttpResponse:
        header = _download_header(request, "the selected enabled alert rules")
        text = publish.render_rule_file(rules=queryset.filter(enabled=True), slos=[], header=header)
        return _rule_file_response(text, "alert_rules")

    def change_view(self, request: HttpRequest, object_id: str, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        # Only to show the page: a save is not held up asking Prometheus first.
        if obj is not None and request.method == "GET":
            extra.update(self._live_context(obj))
            extra["recent_events"] = AlertEvent.objects.filter(alertname=obj.name)[:10]
            extra["runbook_url"] = publish.runbook_url_of(obj)
        return super().change_view(request, object_id, form_url, extra)

    def get_urls(self):
        return [
            path(
                # No trailing slash: runbook_url annotations end with the page name.
                "runbooks/<str:name>",
                self.admin_site.admin_view(self.runbook_view),
                name="telemetry_alertrule_runbook",
            ),
            *super().get_urls(),
        ]

    def runbook_view(self, request: HttpRequest, name: str) -> HttpResponse:
        """A runbook page of docs/runbooks, rendered (what runbook_url annotations open)."""
        page = runbooks.runbook_path(name)
        if page is None:
            raise Http404(f"No runbook {name!r}")
        context = {
            **self.admin_site.each_context(request),
            "title": f"Runbook: {name}",
            "runbook_name": name,
            "runbook_html": runbooks.render_runbook(page),
            "rules": AlertRule.objects.filter(runbook=name),
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/telemetry/alertrule/runbook.html", context)


@admin.register(SLO)
class SLOAdmin(_LiveRulesAdmin):
    list_display = (
        "name",
        "objective",
        "window",
        "enabled",
        "in_prometheus",
        "prometheus_state",
        "publish_status",
        "updated_at",
    )
    list_filter = ("enabled",)
    search_fields = ("name", "description")
    actions = ["enable_selected", "disable_selected", "download_rule_file"]

    @admin.action(description="Download the selected enabled SLOs' rules as a Prometheus rule file")
    def download_rule_file(self, request: HttpRequest, queryset: QuerySet[SLO]) -> HttpResponse:
        header = _download_header(request, "the rules of the selected enabled SLOs")
        text = publish.render_rule_file(rules=[], slos=queryset.filter(enabled=True), header=header)
        return _rule_file_response(text, "slo_rules")

    def change_view(self, request: HttpRequest, object_id: str, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if obj is not None and request.method == "GET":
            extra.update(self._live_context(obj))
            figures = budget.slo_budget(obj, chart_range=request.GET.get("budget_range"))
            extra["budget"] = figures
            extra["budget_ranges"] = [*budget.CHART_RANGES, obj.window]
            extra["recent_events"] = AlertEvent.objects.filter(labels__slo=obj.name)[:10]
        return super().change_view(request, object_id, form_url, extra)


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

    def change_view(self, request: HttpRequest, object_id: str, form_url="", extra_context=None):
        event = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if event is not None:
            extra.update(event_context(event))
        return super().change_view(request, object_id, form_url, extra)


def event_context(event: AlertEvent) -> dict:
    """What an alert event's page shows beside it: its rule, runbook and example traces."""
    rows = links.rules_of_event(event)
    runbook_url = (event.annotations or {}).get("runbook_url", "")
    page_name = runbooks.page_name_of_url(runbook_url)
    if page_name is None and rows:
        page_name = (rows[0].runbook or "").strip() or None
    page = runbooks.runbook_path(page_name) if page_name else None
    route = (event.labels or {}).get("http_route", "")
    end = event.ends_at or timezone.now()
    return {
        "event_rules": [(row, links.admin_change_url(row)) for row in rows],
        "runbook_url": runbook_url,
        "runbook_name": page_name,
        "runbook_html": runbooks.render_runbook(page) if page else None,
        "event_route": route,
        # The console's traces of its route while it fired (telemetry.explorer).
        "traces_url": explorer_links.alert_event_traces_url(event) or None,
        "exemplar_traces": links.exemplar_traces(route, event.starts_at, end) if route else [],
    }


@admin.register(RulePublication)
class RulePublicationAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "started_at",
        "outcome",
        "actor_label",
        "source",
        "reason",
        "rule_count",
    )
    list_filter = ("outcome", "source")
    search_fields = ("reason", "message", "actor_label")
    readonly_fields = [field.name for field in RulePublication._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(AlertingAuditEntry)
class AlertingAuditEntryAdmin(admin.ModelAdmin):
    list_display = (
        "at",
        "actor_label",
        "source",
        "action",
        "target_type",
        "target_label",
        "publication",
    )
    list_filter = ("action", "source", "target_type")
    search_fields = ("target_label", "actor_label", "detail")
    date_hierarchy = "at"
    readonly_fields = [field.name for field in AlertingAuditEntry._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # an audit trail that can be edited is not one
