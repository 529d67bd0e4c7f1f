"""The console's entries in the admin (Telemetry > Traces, Logs, Service overview): each
opens its page of telemetry.explorer, which reads the local store. The store's rows are not
edited in the admin: they are written by every process's telemetry and pruned by it."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import path, reverse

from telemetry.models import LogSearch, ServiceOverview, TraceSearch


class _ConsolePageAdmin(admin.ModelAdmin):
    """An admin entry that opens a console page (view permission only)."""

    console_url_name = ""

    def get_urls(self):
        view = self.admin_site.admin_view(self.open_console)
        info = self.opts.app_label, self.opts.model_name
        return [path("", view, name="{}_{}_changelist".format(*info))]

    def open_console(self, request: HttpRequest) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse(self.console_url_name))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(TraceSearch)
class TraceSearchAdmin(_ConsolePageAdmin):
    console_url_name = "console:traces"


@admin.register(LogSearch)
class LogSearchAdmin(_ConsolePageAdmin):
    console_url_name = "console:logs"


@admin.register(ServiceOverview)
class ServiceOverviewAdmin(_ConsolePageAdmin):
    console_url_name = "console:overview"
