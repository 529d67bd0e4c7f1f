#!/usr/bin/env bash
# Certificates for the OTLP link between the service and its collector, over TLS and mutual
# TLS: a private CA, the collector's server certificate and the service's client
# certificate, each in the layout cert-manager gives a Secret (tls.crt, tls.key, ca.crt).
#
#   bash deploy/otel-collector/make-certificates.sh [DIRECTORY] [EXTRA_DNS_NAME ...]
#
# DIRECTORY (default var/otlp-tls): ca.crt and ca.key (keep the key offline), collector/ for
# the collector (deploy/compose.tls.yaml mounts it), service/ for the service's processes.
# The collector's certificate names otel-collector (the compose service), localhost and
# 127.0.0.1, and any EXTRA_DNS_NAME (e.g. otel-agent.observability.svc.cluster.local).
# Valid 825 days; run again to renew (the CA is kept if it exists). Needs only openssl.
# tests/harness/tls.py makes the end-to-end tests' certificates with this script.
set -euo pipefail

directory="${1:-var/otlp-tls}"
shift || true
days="${OTLP_TLS_DAYS:-825}"
names="DNS:otel-collector,DNS:localhost,IP:127.0.0.1"
for extra in "$@"; do
  names="$names,DNS:$extra"
done

mkdir -p "$directory/collector" "$directory/service"
cd "$directory"
umask 077

if [[ ! -f ca.key || ! -f ca.crt ]]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days "$days" \
    -subj "/CN=observability-site OTLP CA" -keyout ca.key -out ca.crt \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
fi

# sign NAME COMMON_NAME EXTENSIONS: NAME/tls.key, NAME/tls.crt and NAME/ca.crt
sign() {
  local name="$1" common_name="$2" extensions="$3"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/CN=$common_name" -keyout "$name/tls.key" -out "$name/tls.csr" 2>/dev/null
  printf '%b' "$extensions" >"$name/extensions.cnf"
  openssl x509 -req -in "$name/tls.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
    -days "$days" -extfile "$name/extensions.cnf" -out "$name/tls.crt" 2>/dev/null
  cp ca.crt "$name/ca.crt"
  rm -f "$name/tls.csr" "$name/extensions.cnf"
}

sign collector otel-collector \
  "subjectAltName=$names\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n"
sign service observability-site \
  "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n"
# The keys are for the containers' user only (uid 10001: the collector image's and the
# service's Dockerfile's); compose bind-mounts them read-only with these owners.
chmod 0644 collector/tls.crt collector/ca.crt service/tls.crt service/ca.crt ca.crt
chmod 0600 collector/tls.key service/tls.key
owner="${OTLP_TLS_OWNER:-10001:10001}"
if [[ "$(id -u)" == 0 ]]; then
  chown "$owner" collector/tls.key service/tls.key
else
  echo "then: sudo chown $owner $(pwd)/collector/tls.key $(pwd)/service/tls.key" >&2
fi
echo "OTLP certificates in $(pwd): collector/ (server, $names), service/ (client)"
