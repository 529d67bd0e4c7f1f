from __future__ import annotations

import logging
import uuid

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import UserFactory

# The fixtures that start real processes (stack, collector), for every end-to-end test.
pytest_plugins = ["tests.harness.fixtures", "tests.harness.telemetry_fixtures"]


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


@pytest.fixture
def user_client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def staff_session(staff) -> Client:
    """A browser-like client logged in to the admin as a superuser."""
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def staff_client(staff) -> APIClient:
    client = APIClient()
    client.force_authenticate(staff)
    return client


@pytest.fixture(autouse=True, scope="session")
def _quiet_http_client_logs():
    # httpx logs every request at INFO; the e2e tests poll, which would bury real failures.
    logging.getLogger("httpx").setLevel(logging.WARNING)


@pytest.fixture(autouse=True)
def _private_cache(settings):
    # Throttle counters live in the cache: each test gets an empty one of its own, apart
    # from ./var/cache, which `make run` and other test runs on this machine may share.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"test-{uuid.uuid4().hex}",
        }
    }
