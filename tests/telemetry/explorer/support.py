"""Shared by the local store's tests: real spans and log records from a real SDK provider
(not the test process's global one), the store's database alias, and rows to fill it with."""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from telemetry.explorer import rows
from telemetry.models import StoredLogRecord, StoredSpan

STORE = "telemetry_store"
# The tests that read or write the store's own database (besides the default one).
store_db = pytest.mark.django_db(databases=["default", STORE])
store_db_committed = pytest.mark.django_db(databases=["default", STORE], transaction=True)


def new_resource(**attributes) -> Resource:
    return Resource.create(
        {
            "service.name": "observability-site",
            "service.instance.id": str(uuid.uuid4()),
            "process.pid": os.getpid(),
            "host.name": "test-host",
            **attributes,
        }
    )


class Recorder:
    """A TracerProvider and LoggerProvider of their own, keeping what they record in memory
    (so a test hands real finished spans and log records to the store's writer)."""

    def __init__(self, resource: Resource | None = None) -> None:
        self.resource = resource or new_resource()
        self.spans = InMemorySpanExporter()
        # No SDK self-metrics of their own: they would land in the test process's global
        # MeterProvider, which other tests read.
        self.tracer_provider = TracerProvider(
            resource=self.resource, shutdown_on_exit=False, meter_provider=NoOpMeterProvider()
        )
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.tracer = self.tracer_provider.get_tracer("tests.explorer")
        self.logs = InMemoryLogRecordExporter()
        self.logger_provider = LoggerProvider(
            resource=self.resource, shutdown_on_exit=False, meter_provider=NoOpMeterProvider()
        )
        self.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.logs))

    def finished_spans(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def finished_logs(self) -> list[ReadableLogRecord]:
        return list(self.logs.get_finished_logs())

    @contextmanager
    def logging_to_it(self, name: str = "tests.explorer") -> Iterator[logging.Logger]:
        """A Python logger whose records go to this recorder's LoggerProvider."""
        from opentelemetry.instrumentation.logging.handler import LoggingHandler

        handler = LoggingHandler(logger_provider=self.logger_provider)
        log = logging.getLogger(name)
        log.addHandler(handler)
        try:
            yield log
        finally:
            log.removeHandler(handler)


def now_us() -> int:
    return time.time_ns() // 1000


def span_values(**overrides) -> dict:
    """The columns of one stored span, for filling the store directly."""
    values = {
        "trace_id": uuid.uuid4().hex,
        "span_id": uuid.uuid4().hex[:16],
        "parent_span_id": "",
        "parent_is_remote": False,
        "name": "GET /api/users/{user_id}",
        "kind": "server",
        "service_name": "observability-site",
        "process_role": "web",
        "instance_id": "instance-1",
        "scope": "opentelemetry.instrumentation.django",
        "start_us": now_us(),
        "duration_us": 1000,
        "status_code": StoredSpan.Status.UNSET,
        "status_message": "",
        "attributes": '{"http.route":"/api/users/{user_id}"}',
        "events": "",
        "links": "",
    }
    values.update(overrides)
    return values


def stored_span(**overrides) -> StoredSpan:
    return StoredSpan.objects.create(**span_values(**overrides))


def stored_log(**overrides) -> StoredLogRecord:
    values = {
        "time_us": now_us(),
        "trace_id": "",
        "span_id": "",
        "severity_number": 9,
        "level": "INFO",
        "logger": "processing.jobs",
        "body": "job queued",
        "attributes": "",
        "service_name": "observability-site",
        "process_role": "web",
        "instance_id": "instance-1",
    }
    values.update(overrides)
    return StoredLogRecord.objects.create(**values)


def span_tuple(**overrides) -> tuple:
    values = span_values(**overrides)
    return tuple(values[column] for column in rows.SPAN_COLUMNS)
