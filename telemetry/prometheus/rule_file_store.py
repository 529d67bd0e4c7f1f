"""The rule file Prometheus loads, on disk: replaced whole (never half-written), put back,
and written by one publisher at a time.

Several processes publish (every gunicorn worker, commands): an flock on a lock file beside
the rule file serializes them. It holds across processes of one host and across containers
sharing the volume; every publisher must see the same directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


class RuleFileBusy(Exception):
    """Another publisher held the lock for longer than the wait allowed."""


def lock_path(path: Path) -> Path:
    # Not *.yml: Prometheus' rule_files globs must never match it.
    return path.with_name(f".{path.name}.lock")


@contextlib.contextmanager
def locked(path: Path, *, wait_seconds: float) -> Iterator[None]:
    """Hold the publish lock of PATH; RuleFileBusy when it stays taken for WAIT_SECONDS."""
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_seconds
    with open(lock_path(path), "a+b") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise RuleFileBusy(
                        f"another publish of {path} held its lock for more than {wait_seconds:g}s"
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_rule_file(path: Path) -> str | None:
    """The file's text, or None when there is none yet."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def replace_rule_file(path: Path, text: str) -> None:
    """Write TEXT to a temporary file in PATH's directory, then rename it over PATH: a
    Prometheus reloading meanwhile reads the old file or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # The temporary name ends in .tmp so that a rule_files glob (*.yml) never loads it.
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as tmp:
            tmp.write(text)
            tmp.flush()
            os.fsync(tmp.fileno())
        # Prometheus often runs as another user (nobody, in its image): it must read the file.
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _sync_directory(path.parent)


def restore_rule_file(path: Path, previous: str | None) -> None:
    """Put PREVIOUS back (None: there was no file, so remove it)."""
    if previous is None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        _sync_directory(path.parent)
    else:
        replace_rule_file(path, previous)


def _sync_directory(directory: Path) -> None:
    # The rename itself is durable only once the directory entry is on disk.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
