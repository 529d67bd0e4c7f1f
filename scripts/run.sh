#!/usr/bin/env bash
# `make run`: migrate, make sure a development admin exists (printing its login), then run
# gunicorn, a Celery worker and Celery beat until Ctrl-C, each line of their output prefixed
# with its name.
#
# Stopping is the point of this script. Each server runs in a session of its own, so the
# terminal's Ctrl-C reaches this script only; it then sends SIGTERM to each server's main
# process (gunicorn's master, Celery's main process), which stops its own workers gracefully,
# and waits for them. (honcho, used before, signalled whole process groups, so Celery's pool
# children got SIGTERM while their parent was stopping them, and it sent SIGKILL after a
# fixed 5 s, shorter than a prefork worker's warm shutdown on the filesystem broker.)
set -euo pipefail
BIN=${BIN:-.venv/bin}
export PORT=${PORT:-8000}
# Stop waiting and SIGKILL a server that has not stopped by then (gunicorn's graceful
# timeout is 20 s: an in-flight request gets that long).
STOP_TIMEOUT=${STOP_TIMEOUT:-30}

# Variables from ./.env (git-ignored), as honcho and docker compose read them.
if [ -f .env ]; then
    set -a
    # shellcheck disable=SC1091
    . ./.env
    set +a
fi
# The downstream is this service's web process unless named otherwise.
export PROCESSING_DOWNSTREAM_URL=${PROCESSING_DOWNSTREAM_URL:-http://127.0.0.1:$PORT/api/downstream/enrich}

# The local telemetry store (traces and logs for the console) has a database of its own,
# unless TELEMETRY_LOCAL_STORE_DATABASE names another (then `migrate` below creates it).
if [ -z "${TELEMETRY_LOCAL_STORE_DATABASE:-}" ]; then
    "$BIN/python" manage.py migrate --noinput --database telemetry_store
fi
"$BIN/python" manage.py migrate --noinput
"$BIN/python" manage.py ensure_dev_admin
"$BIN/python" manage.py ensure_sampling_policy
echo "Serving on http://127.0.0.1:$PORT (admin: /admin/, API docs: /api/docs/, traces and logs: /admin/telemetry/console/); Ctrl-C stops"

names=()
pids=()
prefix() {
    # Ignores Ctrl-C itself: it must outlive the server it prefixes, or the server's last
    # lines (and its shutdown) would meet a closed pipe.
    trap '' INT TERM
    exec sed -u "s/^/$(printf '%-7s' "$1")| /"
}
start() {
    local name=$1
    shift
    setsid "$@" > >(prefix "$name") 2>&1 &
    names+=("$name")
    pids+=($!)
}

stopping=0
stop_all() {
    stopping=1
    trap '' INT TERM
    echo "stopping (SIGTERM to each server's main process)"
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    local deadline=$((SECONDS + STOP_TIMEOUT))
    for i in "${!pids[@]}"; do
        while kill -0 "${pids[$i]}" 2>/dev/null; do
            if [ "$SECONDS" -ge "$deadline" ]; then
                echo "${names[$i]} did not stop within ${STOP_TIMEOUT}s: SIGKILL"
                kill -KILL -- "-${pids[$i]}" 2>/dev/null || true
                break
            fi
            sleep 0.1
        done
    done
    echo "stopped"
}
trap 'stop_all; exit 0' INT TERM

start web "$BIN/gunicorn" -c observability_site/gunicorn.conf.py observability_site.wsgi
start worker "$BIN/celery" -A observability_site worker --loglevel=INFO --concurrency=2
# Beat sends the periodic job sweeper (processing.sweeper: jobs whose worker or message was
# lost are re-queued or failed). A process of its own, as in production (exactly one per
# deployment), not the worker's -B: stopping or restarting a worker never stops the sweeps.
# Its schedule state lives with the instance's other data.
start beat "$BIN/celery" -A observability_site beat --loglevel=INFO \
    --schedule="${DATA_DIR:-var}/celerybeat-schedule"

# One server ending on its own (a crash, a bad setting) stops the others: the service is
# all or nothing, and the exit status says it failed.
set +e
wait -n "${pids[@]}"
status=$?
set -e
if [ "$stopping" = 0 ]; then
    echo "a server exited on its own (status $status); stopping the others"
    stop_all
    exit "$((status == 0 ? 1 : status))"
fi
