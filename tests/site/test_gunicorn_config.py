"""observability_site/gunicorn.conf.py, loaded as gunicorn loads it (a file of settings and
hooks): the worker class from the environment, and the worker's start-up objects frozen
out of the garbage collector's reach."""

from __future__ import annotations

import gc
import runpy

import pytest

from tests.paths import REPO_ROOT

CONF = REPO_ROOT / "observability_site" / "gunicorn.conf.py"


def load_conf(monkeypatch, tmp_path, **env: str) -> dict:
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    # The file sets it with os.environ.setdefault: set here, it is undone after the test.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "prometheus"))
    monkeypatch.delenv("GUNICORN_WORKER_CLASS", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONF))


def test_workers_are_threaded_unless_the_environment_says_otherwise(monkeypatch, tmp_path):
    assert load_conf(monkeypatch, tmp_path)["worker_class"] == "gthread"
    sync = load_conf(monkeypatch, tmp_path, GUNICORN_WORKER_CLASS="sync")
    assert sync["worker_class"] == "sync"


@pytest.fixture(name="unfrozen")
def unfrozen_fixture():
    gc.unfreeze()
    yield
    gc.unfreeze()  # the test process's collector as it was


def test_a_worker_freezes_what_it_loaded_before_serving(monkeypatch, tmp_path, unfrozen):
    conf = load_conf(monkeypatch, tmp_path)
    assert gc.get_freeze_count() == 0

    conf["post_worker_init"](worker=None)

    # Everything alive now (this test process's modules, much like a worker's) is frozen.
    assert gc.get_freeze_count() > 10_000


def test_loading_it_leaves_the_test_process_environment_as_it_was(monkeypatch, tmp_path):
    import os

    before = dict(os.environ)
    with monkeypatch.context() as patch:
        load_conf(patch, tmp_path)
    assert dict(os.environ) == before
