"""Certificates made by the test itself, with the openssl command line: a CA, a server
certificate for 127.0.0.1/localhost signed by it, a client certificate signed by it, and a
second, unrelated CA (the "wrong CA" a misconfigured service would trust).

Nothing is downloaded and nothing outlives the test's directory. openssl is Debian's (the
`openssl` package, on every machine of this project); the `cryptography` package would do
the same in Python, but would be one more dependency for the tests only.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

OPENSSL = "openssl"


@dataclass(frozen=True)
class Certificates:
    """PEM files: the CA, the server's and the client's certificate and key, a wrong CA."""

    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def server_certificate(self) -> Path:
        return self.directory / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.directory / "server-key.pem"

    @property
    def client_certificate(self) -> Path:
        return self.directory / "client.pem"

    @property
    def client_key(self) -> Path:
        return self.directory / "client-key.pem"

    @property
    def wrong_ca(self) -> Path:
        return self.directory / "wrong-ca.pem"


def _openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run([OPENSSL, *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"openssl {' '.join(args)} failed:\n{done.stderr}"


def _new_ca(directory: Path, name: str, common_name: str) -> None:
    _openssl(
        *("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
        *("-nodes", "-days", "2", "-subj", f"/CN={common_name}"),
        *("-keyout", f"{name}-key.pem", "-out", f"{name}.pem"),
        *("-addext", "basicConstraints=critical,CA:TRUE"),
        *("-addext", "keyUsage=critical,keyCertSign,cRLSign"),
        cwd=directory,
    )


def _signed(directory: Path, name: str, common_name: str, extensions: str) -> None:
    """A key and a certificate for `name`, signed by the CA in `directory`."""
    (directory / f"{name}.ext").write_text(extensions)
    _openssl(
        *("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"),
        *("-subj", f"/CN={common_name}", "-keyout", f"{name}-key.pem", "-out", f"{name}.csr"),
        cwd=directory,
    )
    _openssl(
        *("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem"),
        *("-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem"),
        cwd=directory,
    )


def make_certificates(directory: Path) -> Certificates:
    """Generate a CA, a server certificate (127.0.0.1, localhost), a client certificate and
    an unrelated CA into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    _new_ca(directory, "ca", "observability-site test CA")
    _signed(
        directory,
        "server",
        "localhost",
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "extendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n",
    )
    _signed(
        directory,
        "client",
        "observability-site",
        "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n",
    )
    _new_ca(directory, "wrong-ca", "some other CA")
    return Certificates(directory)
