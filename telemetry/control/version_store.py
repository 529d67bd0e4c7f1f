"""Where the version markers of the control channels live: Redis, or files on this machine.

See telemetry.control.channels for how processes use them.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Protocol

from django.conf import settings


class VersionStore(Protocol):
    def read(self, channel: str) -> str | None: ...

    def bump(self, channel: str) -> None: ...


class RedisVersionStore:
    """Versions as integers in Redis keys: INCR on change, one GET per channel per poll."""

    def __init__(self, url: str) -> None:
        import redis

        self._client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)

    @staticmethod
    def _key(channel: str) -> str:
        return f"telemetry:control:{channel}:version"

    def read(self, channel: str) -> str | None:
        value = self._client.get(self._key(channel))
        # bytes: the client is made without decode_responses.
        return value.decode() if isinstance(value, bytes) else value

    def bump(self, channel: str) -> None:
        self._client.incr(self._key(channel))


class FileVersionStore:
    """Versions as tiny files in a directory every process on this machine shares.

    A bump writes a fresh random token to a temporary file and renames it over the marker,
    so a reader sees the old or the new token, never half of one.
    """

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def _path(self, channel: str) -> Path:
        return self._directory / f"{channel}.version"

    def read(self, channel: str) -> str | None:
        try:
            return self._path(channel).read_text().strip()
        except FileNotFoundError:
            return None

    def bump(self, channel: str) -> None:
        self._directory.mkdir(parents=True, exist_ok=True)
        target = self._path(channel)
        temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
        temporary.write_text(uuid.uuid4().hex)
        os.replace(temporary, target)


def build_version_store() -> VersionStore:
    """The store the settings name: Redis if TELEMETRY_CONTROL_REDIS_URL is set, else files."""
    url = getattr(settings, "TELEMETRY_CONTROL_REDIS_URL", "")
    if url:
        return RedisVersionStore(url)
    return FileVersionStore(Path(settings.DATA_DIR) / "control")
