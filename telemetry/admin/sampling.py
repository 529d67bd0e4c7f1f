"""Admin for the sampling policy: one policy row with its ordered rules, the forcing of
chosen requests and the per-signal export switches. Saving (or deleting) it tells every
process to reload (telemetry.sampling.policy); the change history is Django's admin log."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from telemetry.models import SamplingPolicy, SamplingRule
from telemetry.sampling.policy import announce_policy_change, current_policy
from telemetry.sampling.sampler import ratio_named_by_env


class SamplingRuleForm(forms.ModelForm):
    # Sized to fit the admin's content column: the kinds' long labels and inputs at their
    # model's max_length made the rules table wider than the page, which scrolled sideways.
    # The long labels stay the model's (and the API's); the column's help says the rest.
    kind = forms.ChoiceField(
        choices=[(SamplingRule.Kind.HTTP, "HTTP route"), (SamplingRule.Kind.TASK, "Celery task")],
        initial=SamplingRule.Kind.HTTP,
        help_text="HTTP route: the server span's name, e.g. GET /api/users/{user_id}. "
        "Celery task: the task's name, e.g. processing.process_job.",
    )

    class Meta:
        model = SamplingRule
        fields = ("position", "kind", "pattern", "ratio", "enabled", "note")
        widgets = {
            "position": forms.NumberInput(attrs={"style": "width: 4em"}),
            "pattern": forms.TextInput(attrs={"size": 28}),
            "ratio": forms.NumberInput(attrs={"style": "width: 5em", "step": "any"}),
            "note": forms.TextInput(attrs={"size": 20}),
        }


class SamplingRuleInline(admin.TabularInline):
    model = SamplingRule
    form = SamplingRuleForm
    extra = 1


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

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        # With no row there is nothing to list: go straight to the form that creates it,
        # saying what decides until then. With one, its page is the policy.
        policy = SamplingPolicy.objects.first()
        if policy is not None and self.has_view_or_change_permission(request, policy):
            return HttpResponseRedirect(
                reverse("admin:telemetry_samplingpolicy_change", args=[policy.pk])
            )
        if policy is None and self.has_add_permission(request):
            _, described = ratio_named_by_env()
            messages.info(
                request,
                f"No sampling policy yet: {described} decides in every process. Saving this "
                "form starts steering sampling from here (the default ratio below keeps it "
                "as it is).",
            )
            return HttpResponseRedirect(reverse("admin:telemetry_samplingpolicy_add"))
        return super().changelist_view(request, extra_context)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial: dict[str, Any] = dict(super().get_changeform_initial_data(request))
        ratio, _ = ratio_named_by_env()
        if ratio is not None:
            initial.setdefault("default_ratio", ratio)
        return initial

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
