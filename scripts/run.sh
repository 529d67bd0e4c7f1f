#!/usr/bin/env bash
# `make run`: migrate, make sure a development admin exists (printing its login), then run
# gunicorn and a Celery worker under honcho (Procfile) until Ctrl-C.
set -euo pipefail
BIN=${BIN:-.venv/bin}
export PORT=${PORT:-8000}
# honcho hands each process its own PORT (the worker gets PORT+100), so name the downstream
# (this service's web process, by default) before it does.
export PROCESSING_DOWNSTREAM_URL=${PROCESSING_DOWNSTREAM_URL:-http://127.0.0.1:$PORT/api/downstream/enrich}

# The local telemetry store (traces and logs for the console) has a database of its own,
# unless TELEMETRY_LOCAL_STORE_DATABASE names another (then `migrate` below creates it).
if [ -z "${TELEMETRY_LOCAL_STORE_DATABASE:-}" ]; then
    "$BIN/python" manage.py migrate --noinput --database telemetry_store
fi
"$BIN/python" manage.py migrate --noinput
"$BIN/python" manage.py ensure_dev_admin
echo "Serving on http://127.0.0.1:$PORT (admin: /admin/, API docs: /api/docs/, traces and logs: /admin/telemetry/console/)"
exec "$BIN/honcho" start --port "$PORT"
