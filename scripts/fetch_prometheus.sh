#!/usr/bin/env bash
# Prints the directory of a Prometheus server that accepts OTLP metrics (2.47 or newer), taken
# from Debian's own archive. Debian bookworm's package (2.42) has no OTLP receiver, so this
# fetches the prometheus package of Debian trixie (2.53), which runs on bookworm (a Go binary
# needing only libc). Every download is verified the way apt verifies it: InRelease against
# Debian's archive keyring, Packages.xz against InRelease, the .deb against Packages.xz.
# Cached under .cache/debian-prometheus/<version>/; a second call downloads nothing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${PROMETHEUS_CACHE_DIR:-$ROOT/.cache/debian-prometheus}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE="${PROMETHEUS_DEBIAN_SUITE:-trixie}"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

if [ -x "$CACHE/current/prometheus" ] && "$CACHE/current/prometheus" --version >/dev/null 2>&1; then
    echo "$CACHE/current"
    exit 0
fi

fail() { echo "fetch_prometheus: $*" >&2; exit 1; }
sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

ARCH="$(dpkg --print-architecture)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

curl -fsS --retry 3 -m 60 -o InRelease "$MIRROR/dists/$SUITE/InRelease" \
    || fail "cannot download $MIRROR/dists/$SUITE/InRelease"
gpgv --quiet --keyring "$KEYRING" --output Release InRelease 2>/dev/null \
    || fail "InRelease of $SUITE does not verify against $KEYRING"

INDEX="main/binary-$ARCH/Packages.xz"
want=$(awk -v f="$INDEX" '/^SHA256:/{s=1; next} /^[^ ]/{s=0} s && $3==f {print $1}' Release)
[ -n "$want" ] || fail "$INDEX is not listed in $SUITE's Release"
curl -fsS --retry 3 -m 300 -o Packages.xz "$MIRROR/dists/$SUITE/$INDEX" \
    || fail "cannot download $INDEX"
[ "$(sha256_of Packages.xz)" = "$want" ] || fail "$INDEX does not match its checksum"

# The prometheus stanza: its file name and checksum.
read -r version filename checksum < <(xz -dc Packages.xz | awk '
    /^Package: / {p = ($2 == "prometheus")}
    p && /^Version: /  {v = $2}
    p && /^Filename: / {f = $2}
    p && /^SHA256: /   {s = $2}
    /^$/ && p && f {print v, f, s; exit}')
[ -n "${filename:-}" ] || fail "no prometheus package in $SUITE/$ARCH"

curl -fsS --retry 3 -m 600 -o prometheus.deb "$MIRROR/$filename" || fail "cannot download $filename"
[ "$(sha256_of prometheus.deb)" = "$checksum" ] || fail "$filename does not match its checksum"
dpkg-deb -x prometheus.deb extracted

target="$CACHE/$version"
mkdir -p "$target"
install -m 0755 extracted/usr/bin/prometheus "$target/prometheus"
"$target/prometheus" --version >/dev/null || fail "the extracted prometheus does not run here"
ln -sfn "$version" "$CACHE/current"
echo "$CACHE/current"
