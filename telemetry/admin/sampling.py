"""Admin for the sampling policy: one policy row with its ordered rules, the forcing of
chosen requests and the per-signal export switches. Saving (or deleting) it tells every
process to reload (telemetry.sampling.policy); the change history is Django's admin log."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from telemetry.models import SamplingPolicy, SamplingRule
from telemetry.sampling.policy import announce_policy_change, current_policy


class SamplingRuleInline(admin.TabularInline):
    model = SamplingRule
    extra = 1
    fields = ("position", "kind", "pattern", "ratio", "enabled", "note")


@admin.register(SamplingPolicy)
class SamplingPolicyAdmin(admin.ModelAdmin):
    list_display = ("__str__", "in_force", "updated_by", "updated_at")
    inlines = [SamplingRuleInline]
    filter_horizontal = ("force_users",)
    readonly_fields = ("in_force", "updated_by", "updated_at")
    fieldsets = (
        ("In force", {"fields": ("in_force", "updated_by", "updated_at")}),
        (
            "Root spans",
            {
                "fields": ("default_ratio",),
                "description": "A new trace is kept with the ratio of the first enabled rule "
                "below that matches, else with this default. Spans with a parent follow it.",
            },
        ),
        (
            "Forcing (debugging)",
            {"fields": ("force_header_name", "force_header_value", "force_users")},
        ),
        ("Export", {"fields": ("export_traces", "export_metrics", "export_logs")}),
    )

    @admin.display(description="policy this web process obeys now")
    def in_force(self, obj: SamplingPolicy | None = None) -> str:
        return current_policy().summary

    def has_add_permission(self, request: HttpRequest) -> bool:
        # One policy: the processes obey the first row, so a second one would be ignored.
        return super().has_add_permission(request) and not SamplingPolicy.objects.exists()

    def save_model(self, request: HttpRequest, obj: SamplingPolicy, form, change: bool) -> None:
        obj.updated_by = request.user if request.user.is_authenticated else None
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        # The rules and forced users are saved here, after the row: announce only then.
        super().save_related(request, form, formsets, change)
        announce_policy_change()

    def delete_model(self, request: HttpRequest, obj: SamplingPolicy) -> None:
        super().delete_model(request, obj)
        announce_policy_change()

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[SamplingPolicy]) -> None:
        super().delete_queryset(request, queryset)
        announce_policy_change()
