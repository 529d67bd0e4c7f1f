#!/usr/bin/env bash
# The whole test suite, twice: on the embedded default (SQLite, filesystem broker) and on
# PostgreSQL + Redis, the services this machine runs on 127.0.0.1. Extra arguments go to pytest.
set -euo pipefail
BIN=${BIN:-.venv/bin}
PG_URL=${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/observability_site}
REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}

"$BIN/python" - "$PG_URL" "$REDIS_URL" <<'PY'
import sys, psycopg, redis
pg, rd = sys.argv[1], sys.argv[2]
try:
    psycopg.connect(pg.rsplit("/", 1)[0] + "/postgres", connect_timeout=5).close()
except Exception as exc:
    sys.exit(f"PostgreSQL is not reachable at {pg}: {exc}")
try:
    redis.Redis.from_url(rd, socket_connect_timeout=5).ping()
except Exception as exc:
    sys.exit(f"Redis is not reachable at {rd}: {exc}")
PY

# --- Alerting tools: promtool/amtool and the Prometheus and Alertmanager servers the alerting
# tests run (Debian packages). Installed only when missing; CI runs as root with no stdin.
# The packages ship services of their own: they must not keep running or hold :9090/:9093,
# since the tests start their own servers on free ports with throw-away data directories.
if ! command -v promtool >/dev/null || ! command -v amtool >/dev/null; then
    echo "== installing prometheus and prometheus-alertmanager (promtool, amtool)"
    export DEBIAN_FRONTEND=noninteractive
    SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends prometheus prometheus-alertmanager
    for service in prometheus prometheus-alertmanager; do
        # Without systemd (containers) policy-rc.d usually keeps them stopped; stop if not.
        $SUDO systemctl disable --now "$service" >/dev/null 2>&1 \
            || $SUDO service "$service" stop >/dev/null 2>&1 || true
    done
fi

# --- Profiling tests: a real headless browser for the run's admin page (Debian's chromium
# and chromium-driver, driven by Selenium at /usr/bin/chromedriver), wrk, the load
# generator of bench/profiling_overhead.py, and valgrind (callgrind_annotate reads the
# callgrind downloads; cachegrind counts the benchmarks' instructions). Installed only when
# missing, like the above.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null \
    || ! command -v wrk >/dev/null || ! command -v callgrind_annotate >/dev/null; then
    echo "== installing chromium, chromium-driver, wrk and valgrind"
    export DEBIAN_FRONTEND=noninteractive
    SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver wrk valgrind
fi

# --- The several-host test (tests/deploy/test_several_hosts.py): Debian's HAProxy and a
# redis-server of its own in network namespaces (iproute2). Installed only when missing;
# only a service just installed is stopped (the machine's Redis may be this package).
for pair in haproxy:haproxy redis-server:redis-server ip:iproute2; do
    binary=${pair%%:*} package=${pair##*:}
    if ! command -v "$binary" >/dev/null && [ ! -x "/usr/sbin/$binary" ]; then
        echo "== installing $package"
        export DEBIAN_FRONTEND=noninteractive
        SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
        $SUDO apt-get update -qq
        $SUDO apt-get install -y -qq --no-install-recommends "$package"
        [ "$package" = iproute2 ] || $SUDO systemctl disable --now "$package" >/dev/null 2>&1 \
            || $SUDO service "$package" stop >/dev/null 2>&1 || true
    fi
done

# --- The buffering proxy in front of gunicorn (deploy/nginx): `nginx -t` on the rendered
# configuration and the slow-client tests run Debian's nginx on free ports. Its package
# starts a service on :80; that must not keep running.
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
    echo "== installing nginx"
    export DEBIAN_FRONTEND=noninteractive
    SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends nginx
    $SUDO systemctl disable --now nginx >/dev/null 2>&1 \
        || $SUDO service nginx stop >/dev/null 2>&1 || true
fi

# --- The static checks first: they take seconds and a broken rule fails the run. The same
# as `make lint` and the pre-commit hooks (.pre-commit-config.yaml).
echo "== static checks: ruff (lint and format), import contracts, mypy"
"$BIN/ruff" check .
"$BIN/ruff" format --check .
"$BIN/lint-imports" --no-cache
"$BIN/mypy"

# A data dir of the run's own (SQLite files, filesystem broker), apart from `make run`'s ./var.
DATA_DIR="$(mktemp -d)"
export DATA_DIR
trap 'rm -rf "$DATA_DIR"' EXIT

echo "== pass 1 of 2: SQLite + filesystem broker (the embedded default)"
env -u DATABASE_URL -u CELERY_BROKER_URL "$BIN/pytest" "$@"

echo "== pass 2 of 2: PostgreSQL + Redis"
DATABASE_URL="$PG_URL" CELERY_BROKER_URL="$REDIS_URL" "$BIN/pytest" "$@"
