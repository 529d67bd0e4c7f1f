"""Certificates made by the test itself: a CA, a server certificate for the collector
(127.0.0.1, localhost), a client certificate for the service, and a second, unrelated CA
(the "wrong CA" a misconfigured service would trust).

They come from the script operators use for the compose stack,
deploy/otel-collector/make-certificates.sh (Debian's openssl; nothing downloaded), so the
end-to-end TLS tests also hold that script to its word. Nothing outlives the test's
directory.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.paths import REPO_ROOT

MAKE_CERTIFICATES = REPO_ROOT / "deploy" / "otel-collector" / "make-certificates.sh"


@dataclass(frozen=True)
class Certificates:
    """PEM files: the CA, the server's and the client's certificate and key, a wrong CA."""

    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def server_certificate(self) -> Path:
        return self.directory / "collector" / "tls.crt"

    @property
    def server_key(self) -> Path:
        return self.directory / "collector" / "tls.key"

    @property
    def client_certificate(self) -> Path:
        return self.directory / "service" / "tls.crt"

    @property
    def client_key(self) -> Path:
        return self.directory / "service" / "tls.key"

    @property
    def wrong_ca(self) -> Path:
        return self.directory / "other" / "ca.crt"


def _make(directory: Path) -> None:
    done = subprocess.run(
        ["bash", str(MAKE_CERTIFICATES), str(directory)],
        env={**os.environ, "OTLP_TLS_OWNER": f"{os.getuid()}:{os.getgid()}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"{MAKE_CERTIFICATES} failed:\n{done.stdout}{done.stderr}"


def make_certificates(directory: Path) -> Certificates:
    """Generate the CA, the collector's and the service's certificates, and an unrelated CA
    (in other/), into `directory`."""
    _make(directory)
    _make(directory / "other")
    return Certificates(directory)
