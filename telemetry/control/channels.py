"""How a change made in the admin reaches every running process, within seconds.

A *channel* (profiling runs now; sampling policies later) holds an in-memory snapshot built
from database rows. The hot path (one call per request or task) reads only that snapshot.
Writers call ``channel.notify_changed()`` after their transaction commits: it bumps a version
marker in a store every process can see. One background thread per process (the *poller*)
reads the markers at most once every ``TELEMETRY_CONTROL_POLL_SECONDS`` and rebuilds the
snapshot of a channel whose version moved.

The marker store is Redis when one is configured (``TELEMETRY_CONTROL_REDIS_URL``, by default
the Celery broker when that is Redis), else a small file per channel under
``DATA_DIR/control`` that every process of this machine sees (the embedded default: SQLite and
the filesystem broker). When the store cannot be read, a process keeps its last snapshot and
logs that once (and once more when the store is back).

The poller is started lazily in each process, after any fork (the thread of a parent does
not survive fork), by the first ``ensure_poller()`` or ``snapshot()`` call.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.db import DatabaseError, connections
from opentelemetry.instrumentation.utils import suppress_instrumentation

from telemetry.control.version_store import VersionStore, build_version_store

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Channel(Generic[T]):
    """One kind of admin-steered state: a loader that builds a snapshot from the database,
    the snapshot this process holds, and the version it was built at."""

    def __init__(self, name: str, load: Callable[[], T], empty: T) -> None:
        self.name = name
        self._load = load
        self._snapshot: T = empty
        self._version: str | None = None
        self._loaded = False

    def snapshot(self) -> T:
        """The current snapshot, from memory; starts this process's poller if needed."""
        if not _poller_started:
            ensure_poller()
        return self._snapshot

    def notify_changed(self) -> None:
        """Tell every process to reload this channel; call after the change is committed.

        The writing process reloads at once too. A store that is down is logged, not raised:
        the change is in the database and the processes will see it once the store is back.
        """
        try:
            _store().bump(self.name)
        except Exception as exc:
            logger.warning("control store unreachable, change not announced: %r", exc)
        self.reload()

    def reset(self, empty: T) -> None:
        """Forget the snapshot and its version (tests); the next poll loads it again."""
        self._snapshot = empty
        self._version = None
        self._loaded = False

    def reload(self) -> None:
        """Rebuild the snapshot from the database now (used by tests and by writers)."""
        self._snapshot = self._load()
        self._loaded = True

    def refresh_if_changed(self, store: VersionStore) -> bool:
        """Poll step: reload when the marker moved (or never loaded); True if reloaded."""
        version = store.read(self.name)
        if self._loaded and version == self._version:
            return False
        self._snapshot = self._load()
        self._version = version
        self._loaded = True
        return True


_channels: dict[str, Channel[Any]] = {}
_periodic: list[Callable[[], None]] = []
_store_instance: VersionStore | None = None
_poller_pid: int | None = None
_poller_lock = threading.Lock()
# Whether this process's poller runs: read on every snapshot (several per request), where
# asking os.getpid() each time is a system call; a forked child starts over (below).
_poller_started = False


def _forget_the_parents_poller() -> None:
    global _poller_started
    _poller_started = False


os.register_at_fork(after_in_child=_forget_the_parents_poller)


def register_channel(channel: Channel[T]) -> Channel[T]:
    """Make the poller watch this channel; returns it, for module-level definitions."""
    _channels[channel.name] = channel
    return channel


def register_periodic(callback: Callable[[], None]) -> None:
    """Run `callback` on the poller thread after every poll (e.g. flushing captures)."""
    if callback not in _periodic:
        _periodic.append(callback)


def _store() -> VersionStore:
    global _store_instance
    if _store_instance is None:
        _store_instance = build_version_store()
    return _store_instance


def reset_for_tests(store: VersionStore | None = None) -> None:
    """Forget the store (settings changed) and let the next call build it again."""
    global _store_instance
    _store_instance = store


def ensure_poller() -> None:
    """Start this process's poller thread unless it runs already (safe after fork)."""
    global _poller_pid, _poller_started
    if _poller_pid == os.getpid() or not getattr(settings, "TELEMETRY_CONTROL_ENABLED", True):
        _poller_started = _poller_pid == os.getpid()
        return
    with _poller_lock:
        if _poller_pid == os.getpid():
            return
        _poller_pid = os.getpid()
        thread = threading.Thread(target=_poll_forever, name="telemetry-control", daemon=True)
        thread.start()
        _poller_started = True


def poll_once() -> None:
    """One poll: refresh every changed channel, then run the periodic callbacks.

    Each part fails on its own: an unreachable store keeps the last snapshots, a failing
    callback is logged, and neither stops the next poll.
    """
    _refresh_channels()
    for callback in list(_periodic):
        try:
            callback()
        except Exception:
            logger.exception("telemetry control callback %r failed", callback)
    # Hold no database connection between polls: an idle poller must not keep a connection
    # (or a test database) open, and a poll's few queries are cheap to reconnect for.
    connections.close_all()


_failing: set[str] = set()  # channels whose last refresh failed (logged once)


def _refresh_channels() -> None:
    """Refresh each channel on its own: a store or database that cannot be read keeps that
    channel's last snapshot, logged once until it recovers."""
    try:
        store = _store()
    except Exception as exc:
        for channel in list(_channels.values()):
            _note_failure(channel.name, exc)
        return
    for channel in list(_channels.values()):
        try:
            channel.refresh_if_changed(store)
        except Exception as exc:
            _note_failure(channel.name, exc)
            continue
        if channel.name in _failing:
            _failing.discard(channel.name)
            logger.info("telemetry control: %s reachable again", channel.name)


def _note_failure(name: str, exc: Exception) -> None:
    if name in _failing:
        return
    _failing.add(name)
    if _is_missing_table(exc):
        # Not a fault: the database is not migrated yet (the first `manage.py migrate` itself
        # starts spans, hence the sampler, hence this poller). The defaults apply until the
        # table exists; Django's checks and `showmigrations` report unapplied migrations.
        logger.debug("telemetry control: %s has no table yet (%r); using its defaults", name, exc)
        return
    logger.warning("telemetry control: cannot refresh %s (%r); keeping the last state", name, exc)


def _is_missing_table(exc: Exception) -> bool:
    """True for "no such table" (SQLite) and "undefined table" (PostgreSQL, SQLSTATE 42P01)."""
    if not isinstance(exc, DatabaseError):
        return False
    cause = exc.__cause__
    return "no such table" in str(exc) or getattr(cause, "sqlstate", None) == "42P01"


# Set at interpreter exit: a daemon poller must not query or log while the process tears
# down its database connections and logging streams.
_stopping = threading.Event()
atexit.register(_stopping.set)


# Held by the poller for each poll, the setting read under it: see wait_for_poll_under_way().
_polling = threading.Lock()


def wait_for_poll_under_way() -> None:
    """Return once this process's poller is between polls. With TELEMETRY_CONTROL_ENABLED
    set off before the call, no poll runs after it: a test that steps the channels by hand
    then owns them (a poll already under way would overwrite the snapshot it just set, with
    what its own database connection saw)."""
    with _polling:
        pass


def _poll_forever() -> None:
    interval = float(getattr(settings, "TELEMETRY_CONTROL_POLL_SECONDS", 1.0))
    while not _stopping.is_set():
        started = time.monotonic()
        with _polling:
            # Read each time, so a test (or an operator's settings override) can pause it.
            if getattr(settings, "TELEMETRY_CONTROL_ENABLED", True):
                # The poller's own Redis and database reads are housekeeping, not traffic:
                # traced, they were most of an idle process's spans (4 root spans a second).
                with suppress_instrumentation():
                    poll_once()
        _stopping.wait(max(0.05, interval - (time.monotonic() - started)))
