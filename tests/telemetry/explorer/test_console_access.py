"""The console is for staff with the view permission of its entry; the admin index and the
Telemetry section lead to it."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from tests.factories import UserFactory
from tests.telemetry.explorer.support import store_db

pytestmark = store_db
PAGES = ["traces/", f"traces/{'ab' * 16}/", "logs/", "overview/", ""]


@pytest.mark.parametrize("page", PAGES)
def test_anonymous_visitors_are_sent_to_the_admin_login(page):
    response = Client().get(f"/admin/telemetry/console/{page}")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("page", PAGES)
def test_users_who_are_not_staff_are_sent_to_the_login_too(page):
    client = Client()
    client.force_login(UserFactory())
    assert client.get(f"/admin/telemetry/console/{page}").status_code == 302


def test_staff_need_the_view_permission_of_each_page():
    staff = UserFactory(is_staff=True)
    client = Client()
    client.force_login(staff)
    assert client.get("/admin/telemetry/console/traces/").status_code == 403

    staff.user_permissions.add(Permission.objects.get(codename="view_tracesearch"))
    client.force_login(type(staff).objects.get(pk=staff.pk))

    assert client.get("/admin/telemetry/console/traces/").status_code == 200
    assert client.get("/admin/telemetry/console/logs/").status_code == 403
    assert client.get("/admin/telemetry/console/overview/").status_code == 403


def test_the_pages_only_read(staff_session):
    assert staff_session.post("/admin/telemetry/console/traces/").status_code == 405


def test_the_admin_index_leads_to_each_page(staff_session):
    index = staff_session.get("/admin/").content.decode()
    for model, page in (
        ("tracesearch", "traces"),
        ("logsearch", "logs"),
        ("serviceoverview", "overview"),
    ):
        assert f'href="/admin/telemetry/{model}/"' in index
        response = staff_session.get(f"/admin/telemetry/{model}/")
        assert response.status_code == 302
        assert response["Location"] == f"/admin/telemetry/console/{page}/"
    telemetry = staff_session.get("/admin/telemetry/").content.decode()
    assert ">Traces<" in telemetry and ">Logs<" in telemetry and ">Service overview<" in telemetry
