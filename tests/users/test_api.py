from __future__ import annotations

import pytest
from rest_framework.pagination import PageNumberPagination

from tests.factories import UserFactory
from users.models import User

pytestmark = pytest.mark.django_db


class TestListUsers:
    def test_it_lists_users_paginated(self, staff_client, monkeypatch):
        # DRF reads PAGE_SIZE once, at import: set it on the paginator class.
        monkeypatch.setattr(PageNumberPagination, "page_size", 2)
        UserFactory.create_batch(3)
        response = staff_client.get("/api/users")
        assert response.status_code == 200
        body = response.json()
        assert body["count"] == 4  # three plus the staff caller
        assert len(body["results"]) == 2
        assert body["next"].endswith("/api/users?page=2")
        assert set(body["results"][0]) == {"id", "email", "name", "is_staff", "date_joined"}

    def test_it_filters_by_email_in_any_case(self, staff_client):
        UserFactory(email="alice@example.com")
        UserFactory(email="bob@example.com")
        response = staff_client.get("/api/users", {"email": "Alice@Example.com"})
        assert [u["email"] for u in response.json()["results"]] == ["alice@example.com"]

    def test_it_rejects_a_malformed_email_filter(self, staff_client):
        response = staff_client.get("/api/users", {"email": "not-an-email"})
        assert response.status_code == 400
        assert "email" in response.json()["error"]["fields"]

    def test_it_refuses_non_staff(self, user_client):
        response = user_client.get("/api/users")
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "permission_denied"

    def test_it_requires_authentication(self, anon_client, db):
        response = anon_client.get("/api/users")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"


class TestCreateUser:
    def test_it_creates_a_user(self, staff_client):
        response = staff_client.post(
            "/api/users",
            {"email": "New.Person@Example.com", "name": "New Person", "password": "s3cret-pass!"},
            format="json",
        )
        assert response.status_code == 201
        stored = User.objects.get(pk=response.json()["id"])
        assert stored.email == "new.person@example.com"
        assert stored.name == "New Person"
        assert stored.check_password("s3cret-pass!")
        assert "password" not in response.json()

    def test_it_rejects_a_duplicate_email(self, staff_client):
        UserFactory(email="taken@example.com", name="Original")
        before = User.objects.count()
        response = staff_client.post(
            "/api/users", {"email": "TAKEN@example.com", "name": "Copy"}, format="json"
        )
        assert response.status_code == 400
        assert response.json()["error"]["fields"]["email"] == [
            "A user with this email already exists."
        ]
        assert User.objects.count() == before
        assert User.objects.get(email="taken@example.com").name == "Original"

    @pytest.mark.parametrize(
        ("payload", "field"),
        [
            ({"email": "no-at-sign", "name": "X"}, "email"),
            ({"email": "", "name": "X"}, "email"),
            ({"name": "X"}, "email"),
            ({"email": "ok@example.com"}, "name"),
            ({"email": "ok@example.com", "name": ""}, "name"),
            ({"email": "ok@example.com", "name": "n" * 151}, "name"),
            ({"email": "ok@example.com", "name": "X", "password": "short"}, "password"),
        ],
    )
    def test_it_rejects_bad_input_with_field_errors(self, staff_client, payload, field):
        before = User.objects.count()
        response = staff_client.post("/api/users", payload, format="json")
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "invalid"
        assert field in error["fields"]
        assert User.objects.count() == before

    def test_it_rejects_a_body_that_is_not_json(self, staff_client):
        response = staff_client.post(
            "/api/users", data="{not json", content_type="application/json"
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "parse_error"

    def test_it_refuses_non_staff(self, user_client):
        before = User.objects.count()
        response = user_client.post(
            "/api/users", {"email": "x@example.com", "name": "X"}, format="json"
        )
        assert response.status_code == 403
        assert User.objects.count() == before


class TestGetUser:
    def test_staff_can_read_any_user(self, staff_client):
        other = UserFactory(name="Other")
        response = staff_client.get(f"/api/users/{other.pk}")
        assert response.status_code == 200
        assert response.json()["name"] == "Other"

    def test_a_user_can_read_themself(self, user_client, user):
        response = user_client.get(f"/api/users/{user.pk}")
        assert response.status_code == 200
        assert response.json()["email"] == user.email

    def test_a_user_cannot_read_others(self, user_client):
        other = UserFactory()
        response = user_client.get(f"/api/users/{other.pk}")
        assert response.status_code == 404

    def test_it_answers_404_json_when_absent(self, staff_client):
        response = staff_client.get("/api/users/999999")
        assert response.status_code == 404
        assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}


def test_creating_a_user_refuses_privilege_fields(staff_client):
    response = staff_client.post(
        "/api/users",
        {"email": "sneaky@example.com", "name": "Sneaky", "is_staff": True, "is_superuser": True},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "is_staff": ["Unknown field."],
        "is_superuser": ["Unknown field."],
    }
    assert not User.objects.filter(email="sneaky@example.com").exists()
