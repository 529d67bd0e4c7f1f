"""A text field of the API takes a JSON string and nothing else: `{"data": 42}` is a 400 with
a field error naming what was sent, not the string "42" processed (issue 22, item 6)."""

from __future__ import annotations

import pytest

from processing.models import ProcessingJob
from users.models import User

pytestmark = pytest.mark.django_db

NOT_STRINGS = [42, 4.2, True, None, ["a"], {"a": 1}]


@pytest.mark.parametrize("value", NOT_STRINGS)
@pytest.mark.parametrize("path", ["/api/process", "/api/jobs"])
def test_it_refuses_processing_data_that_is_not_a_string(user_client, path, value):
    response = user_client.post(path, {"data": value}, format="json")
    assert response.status_code == 400, response.content
    assert "data" in response.json()["error"]["fields"]
    assert ProcessingJob.objects.count() == 0


def test_it_says_what_it_wanted(user_client):
    response = user_client.post("/api/jobs", {"data": 42}, format="json")
    assert response.json()["error"]["fields"]["data"] == ["Not a valid string."]


@pytest.mark.parametrize("field", ["email", "name", "password"])
def test_it_refuses_account_fields_that_are_not_strings(staff_client, field):
    body = {"email": "ada@example.com", "name": "Ada", "password": "correct horse battery"}
    body[field] = 12345678
    before = User.objects.count()
    response = staff_client.post("/api/users", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert User.objects.count() == before


def test_a_string_is_still_taken(user_client):
    response = user_client.post("/api/jobs", {"data": "forty two"}, format="json")
    assert response.status_code == 202, response.content
