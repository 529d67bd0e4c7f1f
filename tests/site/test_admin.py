"""The Django admin: accounts and jobs are listed and inspectable by staff."""

from __future__ import annotations

import pytest

from tests.factories import ProcessingJobFactory, UserFactory
from users.models import User

pytestmark = pytest.mark.django_db


def test_the_login_page_renders_with_its_styles(client):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    css = client.get("/static/admin/css/base.css")
    assert css.status_code == 200  # served by whitenoise, no collectstatic needed


def test_non_staff_are_sent_to_login(client, user):
    client.force_login(user)
    response = client.get("/admin/processing/processingjob/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_staff_list_and_search_users(staff_session):
    UserFactory(email="findme@example.com")
    response = staff_session.get("/admin/users/user/", {"q": "findme"})
    assert response.status_code == 200
    assert b"findme@example.com" in response.content


def test_staff_add_a_user_through_the_admin_form(staff_session):
    response = staff_session.post(
        "/admin/users/user/add/",
        {
            "email": "Added@Example.com",
            "name": "Added",
            "password1": "pa55-Word-x9",
            "password2": "pa55-Word-x9",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    added = User.objects.get(email__iexact="added@example.com")
    assert added.check_password("pa55-Word-x9")


def test_the_admin_add_form_shows_a_duplicate_email_next_to_the_field(staff_session):
    UserFactory(email="dupe@example.com")
    before = User.objects.count()
    response = staff_session.post(
        "/admin/users/user/add/",
        {
            "email": "DUPE@example.com",
            "name": "Again",
            "password1": "pa55-Word-x9",
            "password2": "pa55-Word-x9",
            "usable_password": "true",
        },
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["email"] == ["User with this Email already exists."]
    assert User.objects.count() == before


def test_staff_list_filter_and_inspect_jobs(staff_session):
    failed = ProcessingJobFactory(status="failed", error="boom", attempts=4)
    ProcessingJobFactory(status="succeeded")
    listing = staff_session.get("/admin/processing/processingjob/", {"status__exact": "failed"})
    assert listing.status_code == 200
    assert str(failed.pk).encode() in listing.content
    assert listing.context["cl"].result_count == 1
    detail = staff_session.get(f"/admin/processing/processingjob/{failed.pk}/change/")
    assert detail.status_code == 200
    assert b"boom" in detail.content


def test_jobs_cannot_be_added_in_the_admin(staff_session):
    assert staff_session.get("/admin/processing/processingjob/add/").status_code == 403
