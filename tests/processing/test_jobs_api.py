"""POST /api/jobs and GET /api/jobs[/{id}], in-process. The message really goes to the
run's broker; the worker side is covered by tests/processing/test_jobs_in_a_real_worker.py."""

from __future__ import annotations

import uuid

import pytest
from celery import current_app

from processing.models import ProcessingJob
from tests.factories import ProcessingJobFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker_queue():
    """The default queue on the run's broker: how many messages it holds, emptied after."""
    name = current_app.conf.task_default_queue

    def size() -> int:
        with current_app.connection_for_write() as conn:
            declared = conn.default_channel.queue_declare(
                queue=name, durable=True, auto_delete=False
            )
            return declared.message_count

    with current_app.connection_for_write() as conn:
        conn.default_channel.queue_purge(name)
    yield size
    with current_app.connection_for_write() as conn:
        conn.default_channel.queue_purge(name)


def test_it_stores_and_queues_a_job(
    user_client, user, broker_queue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.post("/api/jobs", {"data": "some text"}, format="json")
    assert response.status_code == 202
    body = response.json()
    job = ProcessingJob.objects.get(pk=body["id"])
    assert job.status == "queued"
    assert job.data == "some text"
    assert job.created_by == user
    assert job.attempts == 0
    assert response["Location"] == body["url"] == f"http://testserver/api/jobs/{job.pk}"
    assert broker_queue() == 1


def test_it_queues_only_after_the_row_is_committed(user_client, broker_queue):
    # Inside the test's transaction nothing is committed, so nothing may be queued yet.
    response = user_client.post("/api/jobs", {"data": "some text"}, format="json")
    assert response.status_code == 202
    assert broker_queue() == 0


@pytest.mark.parametrize("payload", [{}, {"data": ""}, {"data": None}])
def test_it_rejects_bad_input_and_stores_nothing(
    user_client, broker_queue, payload, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.post("/api/jobs", payload, format="json")
    assert response.status_code == 400
    assert "data" in response.json()["error"]["fields"]
    assert ProcessingJob.objects.count() == 0
    assert broker_queue() == 0


def test_it_rejects_data_over_the_limit(user_client, settings):
    settings.PROCESSING_MAX_DATA_CHARS = 5
    response = user_client.post("/api/jobs", {"data": "123456"}, format="json")
    assert response.status_code == 400
    assert ProcessingJob.objects.count() == 0


def test_it_requires_authentication(anon_client):
    assert anon_client.post("/api/jobs", {"data": "x"}, format="json").status_code == 401
    assert anon_client.get("/api/jobs").status_code == 401
    assert ProcessingJob.objects.count() == 0


class TestReadJobs:
    def test_it_shows_status_result_timings_and_attempts(self, user_client, user):
        job = ProcessingJobFactory(
            created_by=user, status="succeeded", attempts=2, result={"ok": True}
        )
        body = user_client.get(f"/api/jobs/{job.pk}").json()
        assert body["status"] == "succeeded"
        assert body["attempts"] == 2
        assert body["result"] == {"ok": True}
        assert set(body["timings"]) == {
            "queued_at",
            "started_at",
            "finished_at",
            "queue_wait_ms",
            "run_ms",
        }

    def test_a_user_sees_only_their_own_jobs(self, user_client, user):
        mine = ProcessingJobFactory(created_by=user)
        theirs = ProcessingJobFactory(created_by=UserFactory())
        listed = user_client.get("/api/jobs").json()
        assert [j["id"] for j in listed["results"]] == [str(mine.pk)]
        assert user_client.get(f"/api/jobs/{theirs.pk}").status_code == 404

    def test_staff_see_every_job(self, staff_client):
        job = ProcessingJobFactory(created_by=UserFactory())
        assert staff_client.get(f"/api/jobs/{job.pk}").status_code == 200
        assert staff_client.get("/api/jobs").json()["count"] == 1

    @pytest.mark.parametrize("job_id", [str(uuid.uuid4()), "not-a-uuid"])
    def test_it_answers_404_json_for_an_unknown_job(self, user_client, job_id):
        response = user_client.get(f"/api/jobs/{job_id}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
