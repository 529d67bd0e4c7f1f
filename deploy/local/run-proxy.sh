#!/usr/bin/env bash
# nginx in front of the local gunicorn, as in production: the documented production-like run
# without Docker. It renders deploy/nginx/nginx.conf.template (every client limit is stated
# there) into a temporary directory and runs Debian's nginx, bound to 127.0.0.1, in the
# foreground until Ctrl-C (or SIGTERM), then removes the directory.
#
#   bash deploy/local/run-proxy.sh             # http://127.0.0.1:18080 -> gunicorn at 127.0.0.1:8000
#   bash deploy/local/run-proxy.sh --check     # render and `nginx -t` only
#
# PROXY_PORT (18080) is where clients connect, PORT (8000) is gunicorn's. The service must
# then trust exactly one proxy: NUM_PROXIES=1 (README, Configuration), so that throttles and
# the login lockout count the address nginx saw, not what a client writes in X-Forwarded-For.
# NGINX names the binary (default: nginx on PATH, else /usr/sbin/nginx).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PORT=${PORT:-8000}
PROXY_PORT=${PROXY_PORT:-18080}
CHECK_ONLY=false
[ "${1:-}" = "--check" ] && CHECK_ONLY=true

fail() { echo "run-proxy: $*" >&2; exit 1; }
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
[ -x "$NGINX" ] || fail "no nginx: apt-get install nginx"

PREFIX=$(mktemp -d "${TMPDIR:-/tmp}/run-proxy.XXXXXX")
cleanup() { rm -rf "$PREFIX"; }
trap cleanup EXIT

# envsubst-style, for exactly the template's two variables: nginx's own $variables stay.
sed -e "s|\${LISTEN}|127.0.0.1:$PROXY_PORT|g" -e "s|\${UPSTREAM}|127.0.0.1:$PORT|g" \
    "$ROOT/deploy/nginx/nginx.conf.template" >"$PREFIX/nginx.conf"
if grep -q '\${[A-Za-z_][A-Za-z0-9_]*}' "$PREFIX/nginx.conf"; then
    fail "the template has variables this script does not know: $(grep -o '\${[A-Za-z_]*}' "$PREFIX/nginx.conf" | sort -u | tr '\n' ' ')"
fi

"$NGINX" -t -q -p "$PREFIX" -c "$PREFIX/nginx.conf" -e stderr
if [ "$CHECK_ONLY" = true ]; then
    echo "run-proxy: $PREFIX/nginx.conf is valid"
    exit 0
fi
echo "run-proxy: http://127.0.0.1:$PROXY_PORT -> gunicorn at 127.0.0.1:$PORT (Ctrl-C stops)"
echo "run-proxy: start the service with NUM_PROXIES=1"
# In the foreground (daemon off), so Ctrl-C and SIGTERM reach nginx: it stops its workers
# and exits, then the trap removes the rendered configuration.
"$NGINX" -p "$PREFIX" -c "$PREFIX/nginx.conf" -e stderr -g 'daemon off;' &
nginx_pid=$!
trap 'kill -QUIT "$nginx_pid" 2>/dev/null || true' INT TERM
wait "$nginx_pid" || true
wait "$nginx_pid" 2>/dev/null || true
