from __future__ import annotations

import functools
import logging
import uuid
from pathlib import Path

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import UserFactory
from tests.harness.process_starters import PROCESS_FIXTURES, process_starters_used
from tests.telemetry.in_memory import InMemoryTelemetry, configure_in_memory_telemetry

# The fixtures that start real processes (stack, collector), for every end-to-end test.
pytest_plugins = ["tests.harness.fixtures", "tests.harness.telemetry_fixtures"]


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that starts processes is an e2e test: marked so when it requests a process
    fixture, and a collection error when its module uses a process starter of tests/harness
    without `pytestmark = pytest.mark.e2e` (tests/harness/process_starters.py lists both)."""
    unmarked: dict[str, list[pytest.Item]] = {}  # module (as in node ids) -> its unmarked tests
    for item in items:
        if PROCESS_FIXTURES.keys() & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)
        elif item.get_closest_marker("e2e") is None and _process_starters_in(item.path):
            unmarked.setdefault(item.nodeid.split("::")[0], []).append(item)
    if unmarked:
        raise pytest.UsageError(
            "\n".join(
                f"{module} starts processes through tests/harness "
                f"({', '.join(sorted(_process_starters_in(tests[0].path)))}) but is not marked "
                f"e2e (unmarked: {', '.join(test.name for test in tests)}). Add "
                "`pytestmark = pytest.mark.e2e` to it (in-process tests belong in a module "
                "of their own)."
                for module, tests in unmarked.items()
            )
        )


@functools.cache
def _process_starters_in(path: Path) -> frozenset[str]:
    if path.suffix != ".py":
        return frozenset()
    return frozenset(process_starters_used(path.read_text()))


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


@pytest.fixture(scope="session")
def otel_session() -> InMemoryTelemetry:
    """Set up once, at session scope: before any per-test settings override (tests/conftest.py
    overrides CACHES for every test), whose revert would also drop the middleware the
    instrumentation adds to settings.MIDDLEWARE."""
    return configure_in_memory_telemetry()


@pytest.fixture
def otel(otel_session: InMemoryTelemetry) -> InMemoryTelemetry:
    """The process's telemetry, exporting to memory, with empty span and log exporters."""
    otel_session.spans.clear()
    otel_session.logs.clear()
    return otel_session
