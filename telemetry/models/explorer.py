"""The local telemetry store (telemetry.explorer): finished spans and log records that every
process keeps for the console's Traces, Logs and Service overview pages, and the resource of
each process that wrote them.

The rows live in their own database alias (telemetry.explorer.router): a SQLite file of its
own under DATA_DIR by default, or an alias the operator names. They are written in batches by
a background thread of each process (telemetry.explorer.writer), with raw multi-row inserts,
and pruned by count and age there; nothing else writes them. Times are integers (microseconds
since the epoch), so the waterfall keeps its precision and the rows are cheap to insert on any
engine. Attributes, events and resources are JSON text: the pages decode them, no query looks
inside.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from django.db import models


def _from_us(value: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(value / 1e6, tz=datetime.UTC)


def _decoded(text: str) -> Any:
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return {}


class StoredProcess(models.Model):
    """One process (gunicorn worker, Celery pool child, command ...) that wrote to the store,
    with its OpenTelemetry resource; spans and log records refer to it by instance id."""

    instance_id = models.CharField(max_length=64, unique=True, help_text="service.instance.id")
    service_name = models.CharField(max_length=200)
    process_role = models.CharField(max_length=100)
    host_name = models.CharField(max_length=200, blank=True)
    pid = models.PositiveIntegerField(null=True, blank=True)
    resource = models.TextField(help_text="The resource's attributes, as JSON.")
    first_seen_us = models.BigIntegerField()
    last_seen_us = models.BigIntegerField(db_index=True)

    class Meta:
        ordering = ["-last_seen_us"]
        verbose_name = "stored process"

    def __str__(self) -> str:
        return f"{self.process_role} pid {self.pid} ({self.instance_id[:8]})"

    @property
    def resource_attributes(self) -> dict[str, Any]:
        return _decoded(self.resource)


class StoredSpan(models.Model):
    """One finished, sampled span."""

    class Status(models.IntegerChoices):
        # The values of opentelemetry.trace.StatusCode.
        UNSET = 0, "unset"
        OK = 1, "ok"
        ERROR = 2, "error"

    trace_id = models.CharField(max_length=32)
    span_id = models.CharField(max_length=16)
    parent_span_id = models.CharField(max_length=16, blank=True)
    parent_is_remote = models.BooleanField(default=False)
    name = models.CharField(max_length=300)
    kind = models.CharField(max_length=10)  # server, client, internal, producer, consumer
    service_name = models.CharField(max_length=200)
    process_role = models.CharField(max_length=100)
    instance_id = models.CharField(max_length=64)
    scope = models.CharField(max_length=200, blank=True)
    start_us = models.BigIntegerField()
    duration_us = models.BigIntegerField()
    status_code = models.PositiveSmallIntegerField(choices=Status.choices, default=Status.UNSET)
    status_message = models.TextField(blank=True)
    attributes = models.TextField(blank=True)
    events = models.TextField(blank=True)
    links = models.TextField(blank=True)

    class Meta:
        ordering = ["-start_us"]
        verbose_name = "stored span"
        # Each index costs every insert and every prune; these serve the pages' queries
        # (telemetry.explorer.selectors). Service, role and name filters ride on the time
        # index: a name is matched as a substring, which no B-tree index serves.
        indexes = [
            models.Index(fields=["start_us"], name="store_span_start"),
            # Covers the trace page and the search's grouping by trace (newest first).
            models.Index(fields=["trace_id", "start_us"], name="store_span_trace"),
            models.Index(fields=["status_code", "start_us"], name="store_span_status"),
            # The service overview reads the server and consumer spans of a window.
            models.Index(fields=["kind", "start_us"], name="store_span_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.trace_id}/{self.span_id})"

    @property
    def started_at(self) -> datetime.datetime:
        return _from_us(self.start_us)

    @property
    def end_us(self) -> int:
        return self.start_us + self.duration_us

    @property
    def is_error(self) -> bool:
        return self.status_code == self.Status.ERROR

    @property
    def attribute_map(self) -> dict[str, Any]:
        return _decoded(self.attributes)

    @property
    def event_list(self) -> list[dict[str, Any]]:
        return _decoded(self.events) or []

    @property
    def link_list(self) -> list[dict[str, Any]]:
        return _decoded(self.links) or []


class StoredLogRecord(models.Model):
    """One log record (Python logging, through the OpenTelemetry log bridge)."""

    time_us = models.BigIntegerField()
    trace_id = models.CharField(max_length=32, blank=True)
    span_id = models.CharField(max_length=16, blank=True)
    severity_number = models.PositiveSmallIntegerField(default=0)
    level = models.CharField(max_length=10, blank=True)  # the severity text: INFO, WARN ...
    logger = models.CharField(max_length=200, blank=True)  # the instrumentation scope
    body = models.TextField(blank=True)
    attributes = models.TextField(blank=True)
    service_name = models.CharField(max_length=200)
    process_role = models.CharField(max_length=100)
    instance_id = models.CharField(max_length=64)

    class Meta:
        ordering = ["-time_us"]
        verbose_name = "stored log record"
        indexes = [
            models.Index(fields=["time_us"], name="store_log_time"),
            models.Index(fields=["trace_id", "time_us"], name="store_log_trace"),
            models.Index(fields=["severity_number", "time_us"], name="store_log_level"),
        ]

    def __str__(self) -> str:
        return f"{self.level} {self.logger}: {self.body[:60]}"

    @property
    def logged_at(self) -> datetime.datetime:
        return _from_us(self.time_us)

    @property
    def attribute_map(self) -> dict[str, Any]:
        return _decoded(self.attributes)


# The admin's entries for the console's pages (Telemetry > Traces, Logs, Service overview):
# proxies, so each has a place in the admin index and a view permission of its own, without
# a table (the pattern of the admin's "summary" pages).
class TraceSearch(StoredSpan):
    class Meta:
        proxy = True
        verbose_name = "trace"
        verbose_name_plural = "traces"


class LogSearch(StoredLogRecord):
    class Meta:
        proxy = True
        verbose_name = "log"
        verbose_name_plural = "logs"


class ServiceOverview(StoredSpan):
    class Meta:
        proxy = True
        verbose_name = "service overview"
        verbose_name_plural = "service overview"
