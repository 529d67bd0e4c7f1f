"""Writing the local store: the exporters that the SDK's batch processors call from their
background thread, and the pruning that keeps the store within its bounds.

Each process has one StoreWriter, shared by its span and log exporters. The batch processors
around them (telemetry.pipeline.providers) bound the queues, count drops
(otel.sdk.processor.*) and never block a request; the writes run under
suppress_instrumentation(), so the store is never traced itself. Pruning runs here, after a
write, never on a request: the oldest rows beyond the count bounds and the rows older than the
age bound are deleted in the same short write transactions as the inserts.

A store that cannot be written (locked too long, disk full, no tables, unreachable) costs the
process the items of the failed batches and one warning; a later batch that succeeds says so
once, with how many items were lost meanwhile.
"""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import connections, transaction
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from telemetry.explorer import rows
from telemetry.explorer.router import store_alias

# The store's models are imported where they are used: this module is loaded when the
# providers are built, which in gunicorn's post_fork and manage.py is before Django's apps.

logger = logging.getLogger(__name__)

# Count pruning deletes down to this share of the bound, so that the exact (index-walking)
# cut-off query runs once per 5% of the bound written, not after every batch.
PRUNE_TO_SHARE = 0.95
# Pruning by age (an index seek when there is nothing to delete) runs at most this often.
AGE_PRUNE_INTERVAL_SECONDS = 10.0
# How often a live process refreshes its row (processes unseen for the age bound go).
PROCESS_TOUCH_INTERVAL_SECONDS = 60.0

# Set in a `manage.py migrate` process: the command creates the store's tables itself, and a
# writer creating them beside it from the export thread would race it ("table already exists").
_schema_left_to_migrate = False


def leave_schema_to_migrate() -> None:
    """This process runs `migrate`: its writer never creates the store's tables; what it
    exports before the command has created them is dropped (a few start-up records)."""
    global _schema_left_to_migrate
    _schema_left_to_migrate = True


@dataclass(frozen=True)
class StoreBounds:
    """How much the store keeps: rows beyond the counts and older than the age are deleted."""

    max_spans: int
    max_log_records: int
    max_age_seconds: int

    @classmethod
    def from_settings(cls) -> StoreBounds:
        return cls(
            max_spans=int(getattr(settings, "TELEMETRY_LOCAL_STORE_MAX_SPANS", 100_000)),
            max_log_records=int(
                getattr(settings, "TELEMETRY_LOCAL_STORE_MAX_LOG_RECORDS", 100_000)
            ),
            max_age_seconds=int(getattr(settings, "TELEMETRY_LOCAL_STORE_MAX_AGE_SECONDS", 86_400)),
        )


def process_role(argv: Sequence[str] | None = None) -> str:
    """What this process is, from its command line: web (gunicorn), worker (Celery), the
    manage.py command (runserver counts as web), or the program's name."""
    argv = list(sys.argv if argv is None else argv)
    program = os.path.basename(argv[0]) if argv else ""
    if program.startswith("gunicorn"):
        return "web"
    if program.startswith("celery") or "celery" in argv[:1]:
        for word in ("worker", "beat"):
            if word in argv:
                return word
        return "celery"
    if program == "manage.py" or program.endswith("manage.py"):
        command = argv[1] if len(argv) > 1 else "help"
        return "web" if command == "runserver" else f"manage.py {command}"
    return program or "python"


def describe_store(alias: str | None = None) -> str:
    """Where the store is, for messages: its alias and, for SQLite, its file."""
    alias = alias or store_alias()
    database = settings.DATABASES.get(alias, {})
    if "sqlite" in str(database.get("ENGINE", "")):
        return f"database {alias!r} (SQLite file {database.get('NAME')})"
    return f"database {alias!r}"


class _Health:
    """Failures said once, recovery said once: the pattern of telemetry.control.channels."""

    def __init__(self, alias: str) -> None:
        self.alias = alias
        self.failing = False
        self.lost = 0
        self.last_error = ""
        self._lock = threading.Lock()

    def failed(self, exc: BaseException, count: int, what: str) -> None:
        with self._lock:
            self.lost += count
            self.last_error = repr(exc)[:300]
            if self.failing:
                return
            self.failing = True
        hint = ""
        if _is_missing_table(exc):
            hint = f"; create its tables with `manage.py migrate --database {self.alias}`"
        logger.warning(
            "local telemetry store: cannot write %s to %s (%r)%s; dropping what this "
            "process records until it can (requests are not affected)",
            what,
            describe_store(self.alias),
            exc,
            hint,
        )

    def succeeded(self) -> None:
        if not self.failing:
            return
        with self._lock:
            if not self.failing:
                return
            self.failing = False
            lost, self.lost = self.lost, 0
        logger.info(
            "local telemetry store: writing to %s again (%d spans and log records were lost "
            "meanwhile)",
            describe_store(self.alias),
            lost,
        )


class StoreWriter:
    """One process's writes to the store: inserts, its process row, and pruning."""

    def __init__(
        self,
        *,
        alias: str | None = None,
        bounds: StoreBounds | None = None,
        role: str | None = None,
    ) -> None:
        self.alias = alias or store_alias()
        self.bounds = bounds or StoreBounds.from_settings()
        self.identity = rows.ProcessIdentity(role or process_role())
        self.health = _Health(self.alias)
        self._sql: dict[str, str] = {}
        self._touched: dict[str, float] = {}  # instance id -> when its row was refreshed
        self._age_pruned: dict[str, float] = {}  # table -> when rows past the age went
        self._lock = threading.Lock()  # the span and log threads share the process row
        self._schema_tried = False
        self._schema_ready = False
        self._schema_lock = threading.Lock()

    # --- the exporters' entry points

    def write_spans(self, spans: Sequence[ReadableSpan]) -> bool:
        """Insert a batch of spans and prune; False (logged once) if the store failed."""
        from telemetry.models.explorer import StoredSpan

        return self._write(
            StoredSpan,
            rows.SPAN_COLUMNS,
            [rows.span_row(span, self.identity) for span in spans],
            resource=spans[0].resource if spans else None,
            what="spans",
        )

    def write_logs(self, records: Sequence[ReadableLogRecord]) -> bool:
        """Insert a batch of log records and prune; False (logged once) if the store failed."""
        from telemetry.models.explorer import StoredLogRecord

        return self._write(
            StoredLogRecord,
            rows.LOG_COLUMNS,
            [rows.log_row(record, self.identity) for record in records],
            resource=records[0].resource if records else None,
            what="log records",
        )

    # --- the work

    def _write(self, model, columns, batch: list[tuple], *, resource, what: str) -> bool:
        if not batch:
            return True
        error = self._write_once(model, columns, batch, resource=resource)
        if error is not None and _is_missing_table(error):
            if _schema_left_to_migrate:
                logger.debug("local telemetry store: no tables yet, %d %s gone", len(batch), what)
                return True
            if self._create_schema_once():
                error = self._write_once(model, columns, batch, resource=resource)
        if error is not None:
            self.health.failed(error, len(batch), what)
            return False
        self.health.succeeded()
        return True

    def _create_schema_once(self) -> bool:
        """Create the tables of the store's own SQLite file, once per process, when a write
        found them missing: the file is the store's alone (a fresh data dir, or one deleted
        to start over), so the process that needs it creates it, under a lock beside it.
        An alias the operator named is left to `manage.py migrate --database`. True if the
        tables exist now."""
        if self.alias != "telemetry_store":
            return False
        with self._schema_lock:  # the span and log threads may both find the tables missing
            if self._schema_tried:
                return self._schema_ready
            self._schema_tried = True
            self._schema_ready = self._migrate_own_file()
            return self._schema_ready

    def _migrate_own_file(self) -> bool:
        import fcntl

        from django.core.management import call_command

        from telemetry.models.explorer import StoredLogRecord, StoredSpan

        path = f"{settings.DATABASES[self.alias]['NAME']}.migrate-lock"
        try:
            with open(path, "w") as lock, suppress_instrumentation():
                fcntl.flock(lock, fcntl.LOCK_EX)
                call_command(
                    "migrate",
                    "telemetry",
                    database=self.alias,
                    interactive=False,
                    verbosity=0,
                    stdout=io.StringIO(),
                )
                tables = set(connections[self.alias].introspection.table_names())
        except Exception as exc:
            logger.warning("local telemetry store: cannot create its tables (%r)", exc)
            return False
        finally:
            _close_connection(self.alias)
        wanted = {StoredSpan._meta.db_table, StoredLogRecord._meta.db_table}
        if not wanted <= tables:  # recorded as migrated, yet a table is gone (dropped by hand)
            return False
        logger.info("local telemetry store: created its tables in %s", describe_store(self.alias))
        return True

    def _write_once(self, model, columns, batch: list[tuple], *, resource) -> Exception | None:
        """Insert and prune; the exception if the store failed (never raised)."""
        connection = connections[self.alias]
        try:
            with suppress_instrumentation():
                if connection.connection is not None and not connection.is_usable():
                    connection.close()
                with transaction.atomic(using=self.alias), connection.cursor() as cursor:
                    self._touch_process(resource)
                    cursor.executemany(self._insert_sql(model, columns), batch)
                self._prune(model)
        except Exception as exc:  # a store that fails must never reach the batch processor
            self._touched.clear()  # the process row may have been rolled back with the batch
            # A broken connection is not reused (a caller's own transaction is left to it).
            if not connection.in_atomic_block:
                connection.close()
            return exc
        return None

    def _insert_sql(self, model, columns: Sequence[str]) -> str:
        sql = self._sql.get(model._meta.label)
        if sql is None:
            quote = connections[self.alias].ops.quote_name
            names = ", ".join(quote(model._meta.get_field(name).column) for name in columns)
            marks = ", ".join(["%s"] * len(columns))
            sql = f"INSERT INTO {quote(model._meta.db_table)} ({names}) VALUES ({marks})"
            self._sql[model._meta.label] = sql
        return sql

    def _touch_process(self, resource) -> None:
        """Keep this process's row (its resource) in the store: written on the first batch,
        refreshed once a minute, so the pages can show the resource of every span."""
        from telemetry.models.explorer import StoredProcess

        if resource is None:
            return
        service, instance = self.identity.of(resource)
        now = time.monotonic()
        with self._lock:
            last = self._touched.get(instance)
            if last is not None and now - last < PROCESS_TOUCH_INTERVAL_SECONDS:
                return
            self._touched[instance] = now
        attributes = dict(resource.attributes)
        now_us = time.time_ns() // 1000
        updated = (
            StoredProcess.objects.using(self.alias)
            .filter(instance_id=instance)
            .update(last_seen_us=now_us)
        )
        if not updated:
            pid = attributes.get("process.pid")
            StoredProcess.objects.using(self.alias).bulk_create(
                [
                    StoredProcess(
                        instance_id=instance,
                        service_name=service,
                        process_role=self.identity.role,
                        host_name=str(attributes.get("host.name") or socket.gethostname())[:200],
                        pid=pid if isinstance(pid, int) else None,
                        resource=json.dumps(attributes, default=str),
                        first_seen_us=now_us,
                        last_seen_us=now_us,
                    )
                ],
                ignore_conflicts=True,
            )

    def _prune(self, model) -> None:
        """Delete what is beyond the bounds of `model`'s table: rows older than the age bound
        (at most every few seconds), and the oldest rows beyond the count bound."""
        from telemetry.models.explorer import StoredProcess, StoredSpan

        connection = connections[self.alias]
        quote = connection.ops.quote_name
        table = quote(model._meta.db_table)
        pk = quote(model._meta.pk.column)
        if model is StoredSpan:
            time_column, bound = quote("start_us"), self.bounds.max_spans
        else:
            time_column, bound = quote("time_us"), self.bounds.max_log_records
        now = time.monotonic()
        age_due = now - self._age_pruned.get(table, 0.0) >= AGE_PRUNE_INTERVAL_SECONDS
        with transaction.atomic(using=self.alias), connection.cursor() as cursor:
            if age_due:
                self._age_pruned[table] = now
                cutoff_us = (time.time() - self.bounds.max_age_seconds) * 1e6
                cursor.execute(f"DELETE FROM {table} WHERE {time_column} < %s", [int(cutoff_us)])
                if model is StoredSpan:
                    cursor.execute(
                        f"DELETE FROM {quote(StoredProcess._meta.db_table)} "
                        f"WHERE {quote('last_seen_us')} < %s",
                        [int(cutoff_us)],
                    )
            # Ids grow with every insert (any process), so the oldest rows have the lowest:
            # MAX - MIN + 1 is an upper bound of the count, read from the primary key's ends.
            cursor.execute(f"SELECT MIN({pk}), MAX({pk}) FROM {table}")
            low, high = cursor.fetchone()
            if low is None or high - low + 1 <= bound:
                return
            keep = max(1, int(bound * PRUNE_TO_SHARE))
            cursor.execute(f"SELECT {pk} FROM {table} ORDER BY {pk} DESC LIMIT 1 OFFSET %s", [keep])
            found = cursor.fetchone()
            if found is not None:
                cursor.execute(f"DELETE FROM {table} WHERE {pk} <= %s", [found[0]])


class StoreSpanExporter(SpanExporter):
    """A SpanExporter that writes to the local store (for a BatchSpanProcessor)."""

    def __init__(self, writer: StoreWriter) -> None:
        self.writer = writer

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        ok = self.writer.write_spans(spans)
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        _close_connection(self.writer.alias)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class StoreLogRecordExporter(LogRecordExporter):
    """A LogRecordExporter that writes to the local store (for a BatchLogRecordProcessor)."""

    def __init__(self, writer: StoreWriter) -> None:
        self.writer = writer

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        ok = self.writer.write_logs(batch)
        return LogRecordExportResult.SUCCESS if ok else LogRecordExportResult.FAILURE

    def shutdown(self) -> None:
        _close_connection(self.writer.alias)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _close_connection(alias: str) -> None:
    # Only this thread's connection: each thread has its own (Django's connections are
    # thread-local), and the batch processor's thread is done with it.
    try:
        connections[alias].close()
    except Exception:  # an exit path must never raise
        pass


def _is_missing_table(exc: BaseException) -> bool:
    return "no such table" in str(exc) or "does not exist" in str(exc)
