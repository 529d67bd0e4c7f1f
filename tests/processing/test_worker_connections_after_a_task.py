"""What a worker does with its database connection when a task ends
(common.worker_connections): a task that failed or was retried may have had a query cut
short, so its connection is closed; after a clean end the connection is kept, for as long
as CONN_MAX_AGE allows; an eager task runs on its caller's connection, left alone."""

from __future__ import annotations

import pytest
from celery import states
from celery.signals import task_postrun, task_prerun
from django.db import connection

import observability_site.celery  # noqa: F401  (connects the handlers, as a worker does)
from processing.tasks import process_job

pytestmark = pytest.mark.django_db(transaction=True)

closable = pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason="the SQLite test database lives in memory, and Django never closes such a "
    "connection; this runs in the PostgreSQL pass",
)


def end_task(state: str) -> None:
    task_prerun.send(sender=process_job, task_id="t", task=process_job)
    connection.ensure_connection()
    task_postrun.send(sender=process_job, task_id="t", task=process_job, state=state)


@closable
@pytest.mark.parametrize("state", [states.FAILURE, states.RETRY, states.REVOKED])
def test_a_task_that_did_not_end_cleanly_leaves_no_connection(state):
    end_task(state)
    assert connection.connection is None


@closable
@pytest.mark.parametrize("state", [states.SUCCESS, states.IGNORED])
def test_a_clean_end_keeps_the_connection_while_conn_max_age_allows(state):
    end_task(state)
    assert connection.connection is not None  # CONN_MAX_AGE 60 by default

    connection.close_at = 0  # as if CONN_MAX_AGE had run out during the task
    task_postrun.send(sender=process_job, task_id="t", task=process_job, state=state)
    assert connection.connection is None


def test_an_eager_task_leaves_the_callers_connection_alone():
    connection.ensure_connection()
    process_job.push_request(is_eager=True)
    try:
        task_postrun.send(sender=process_job, task_id="t", task=process_job, state=states.FAILURE)
    finally:
        process_job.pop_request()
    assert connection.connection is not None
