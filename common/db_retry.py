"""Waiting out a database outage instead of failing on its first error.

A Celery task that meets `OperationalError` fails, its message is acknowledged, and the
job it carried stays `queued` or `running` for good (issue 15: 33 of 150 jobs after a 15 s
PostgreSQL outage). Its writes are idempotent, so it can retry them in place: the worker
cannot do anything useful without its database anyway, and the messages behind it wait in
the broker, where they are safe.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from django import db

logger = logging.getLogger(__name__)

T = TypeVar("T")

DATABASE_ERRORS = (db.OperationalError, db.InterfaceError)


def call_with_database_retry(
    fn: Callable[[], T],
    *,
    wait_seconds: float,
    first_delay: float = 0.5,
    max_delay: float = 5.0,
) -> T:
    """fn(), retried with exponential backoff (with jitter) while it raises a database
    connection error, for at most `wait_seconds`; then that error is raised."""
    deadline = time.monotonic() + wait_seconds
    delay = first_delay
    attempt = 0
    while True:
        try:
            return fn()
        except DATABASE_ERRORS as exc:
            attempt += 1
            pause = delay * random.uniform(0.5, 1.0)
            if time.monotonic() + pause > deadline:
                raise
            if attempt == 1:
                logger.warning(
                    "database unavailable, waiting for it",
                    extra={"error_type": type(exc).__name__, "wait_seconds": wait_seconds},
                )
            # A connection that failed is closed, so the next try opens a new one.
            db.close_old_connections()
            time.sleep(pause)
            delay = min(delay * 2, max_delay)
