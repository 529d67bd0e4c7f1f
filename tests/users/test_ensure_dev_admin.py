"""`manage.py ensure_dev_admin`: a development admin with a random password, printed."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import CommandError, call_command

from users.models import User

pytestmark = pytest.mark.django_db


def run_command(**options) -> str:
    out = io.StringIO()
    call_command("ensure_dev_admin", stdout=out, **options)
    return out.getvalue()


def test_it_creates_an_admin_and_prints_the_same_credentials_again(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    first = run_command()
    email, password = re.search(r"Admin login: (\S+) / (\S+)", first).groups()
    admin = User.objects.get(email=email)
    assert admin.is_superuser and admin.is_staff
    assert admin.check_password(password)
    assert len(password) >= 16
    assert (tmp_path / "dev_admin_password").stat().st_mode & 0o077 == 0
    assert run_command() == first
    assert User.objects.filter(email=email).count() == 1


def test_two_fresh_set_ups_get_different_passwords(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    first = run_command()
    User.objects.all().delete()
    (tmp_path / "dev_admin_password").unlink()
    assert run_command() != first


def test_it_refuses_in_production(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.DEPLOYMENT_ENVIRONMENT = "production"
    with pytest.raises(CommandError, match="production"):
        run_command()
    assert User.objects.count() == 0
