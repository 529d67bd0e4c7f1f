"""For the console's end-to-end tests: reading the store the service processes wrote (its
SQLite file in the stack's DATA_DIR), and a browser logged in to the admin."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

# Batches every half second, so a test sees what a request recorded soon after it.
QUICK_BATCHES = {"OTEL_BSP_SCHEDULE_DELAY": "500", "OTEL_BLRP_SCHEDULE_DELAY": "500"}


def store_path(stack) -> Path:
    return Path(stack.env["DATA_DIR"]) / "telemetry.sqlite3"


def query_store(stack, sql: str, params: tuple = ()) -> list[tuple]:
    with sqlite3.connect(store_path(stack), timeout=10) as store:
        return store.execute(sql, params).fetchall()


def wait_for_store(stack, what: str, check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"the store did not get {what} in {timeout}s:\n{stack.logs()}")


def span_names(stack, trace_id: str) -> list[str]:
    rows = query_store(
        stack, "SELECT name FROM telemetry_storedspan WHERE trace_id = ?", (trace_id,)
    )
    return [name for (name,) in rows]


def log_bodies(stack, trace_id: str) -> list[str]:
    rows = query_store(
        stack, "SELECT body FROM telemetry_storedlogrecord WHERE trace_id = ?", (trace_id,)
    )
    return [body for (body,) in rows]
