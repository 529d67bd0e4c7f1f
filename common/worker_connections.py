"""A Celery worker keeps its database connections from task to task, as a web worker keeps
them from request to request.

Celery's Django fix-up closes every connection before and after each task, unless
CELERY_DB_REUSE_MAX is set: a query interrupted by a time limit can leave a connection
Django cannot tell is broken (celery/celery#9824). A prefork worker then connects to
PostgreSQL twice per job (process_job, complete_job). Each connection costs the pool process
about 1.7 million instructions without telemetry, and about half a million more with it:
the psycopg instrumentation builds an integration and a cursor class for every connection,
and Django's `set_config('TimeZone')` is one more database span (docs/overhead.md, round
eight: a job went from 17.8 to 14.3 million instructions off, 24.7 to 20.2 at 100%).

With CELERY_DB_REUSE_MAX set (settings: the fix-up then closes only every that many tasks),
`keep_connections_between_tasks` does around each task what Django does around a request,
`close_old_connections`. That closes a connection older than CONN_MAX_AGE, one left in a
transaction, and one that failed its health check after an error (CONN_HEALTH_CHECKS pings
a reused connection before its first query). After a task that did not finish cleanly
(failure, retry, revoked), every connection is closed, as the fix-up would have closed it:
a time limit or a signal may have cut a query short.
"""

from __future__ import annotations

from typing import Any

from celery import states
from celery.signals import task_postrun, task_prerun
from django import db

# The states after which a task's connections are known to be whole.
_CLEAN_ENDS = frozenset({states.SUCCESS, states.IGNORED})


def keep_connections_between_tasks() -> None:
    """Connect the handlers (once per process; a second call changes nothing)."""
    task_prerun.connect(_before_task, weak=False, dispatch_uid="common.worker_connections.pre")
    task_postrun.connect(_after_task, weak=False, dispatch_uid="common.worker_connections.post")


def _before_task(sender: Any = None, **_: Any) -> None:
    if not _is_eager(sender):
        db.close_old_connections()


def _after_task(sender: Any = None, state: str | None = None, **_: Any) -> None:
    if _is_eager(sender):
        return  # the caller's connections, not the worker's
    if state in _CLEAN_ENDS:
        db.close_old_connections()
    else:
        db.connections.close_all()


def _is_eager(task: Any) -> bool:
    return bool(getattr(getattr(task, "request", None), "is_eager", False))
