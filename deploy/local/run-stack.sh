#!/usr/bin/env bash
# The parts of the backend stack that run without Docker, for development next to `make run`.
# Everything binds 127.0.0.1 and keeps its data under var/stack/:
#   Alertmanager  Debian's prometheus-alertmanager         http://127.0.0.1:9093
#   Prometheus    Debian's prometheus                      http://127.0.0.1:9090
#                 It loads the rules the service publishes (var/stack/prometheus/rules/, the
#                 service's PROMETHEUS_RULES_FILE: a rule saved in the admin is live at once;
#                 --web.enable-lifecycle lets the service reload it, --web.external-url makes
#                 alert links name 127.0.0.1 rather than the hostname). It scrapes the
#                 service's /metrics, and the OpenTelemetry metrics too: Debian
#                 builds Prometheus without its OTLP receiver, so each process of the service
#                 serves them for scraping (OTEL_METRICS_EXPORTER=otlp,prometheus, one port per
#                 process in OTEL_EXPORTER_PROMETHEUS_PORT, job observability-site-otel), with
#                 the same names the compose stack's OTLP receiver gives them.
#   collector     rotel-agent (PyPI `rotel`, a dev dependency): OTLP gRPC 127.0.0.1:4317 and
#                 HTTP 127.0.0.1:4318. It has no Jaeger, Prometheus or Elasticsearch exporter, so
#                 traces, metrics and logs end in its log (var/stack/rotel/rotel.log).
# The configurations are the compose stack's (deploy/prometheus/prometheus.yml and
# deploy/alertmanager/alertmanager.yml) with local addresses, checked by promtool and amtool.
# Once Prometheus is up, the rules in the service's database are published into it
# (`manage.py export_alert_rules`, with the settings below); if the database is not migrated
# yet, the seeded rules' reference export is copied there until the service publishes.
#
#   bash deploy/local/run-stack.sh            # start; Ctrl-C stops all three
#   bash deploy/local/run-stack.sh --check    # only render and check the configurations
#
# Then, in another terminal, the service with the settings this script wrote:
#   set -a; . var/stack/service.env; set +a; make run
# Ports: PORT (the service, 8000), PROXY_PORT (nginx in front of it, 18080), PROMETHEUS_PORT,
# ALERTMANAGER_PORT, OTLP_GRPC_PORT, OTLP_HTTP_PORT, OTEL_METRICS_PORTS (a range, one port
# per web worker or pool child);
# PROMETHEUS names the binary; STACK_DIR moves var/stack.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN=${BIN:-$ROOT/.venv/bin}
STACK=${STACK_DIR:-$ROOT/var/stack}
PORT=${PORT:-8000}
PROMETHEUS_PORT=${PROMETHEUS_PORT:-9090}
ALERTMANAGER_PORT=${ALERTMANAGER_PORT:-9093}
OTLP_GRPC_PORT=${OTLP_GRPC_PORT:-4317}
OTLP_HTTP_PORT=${OTLP_HTTP_PORT:-4318}
OTEL_METRICS_PORTS=${OTEL_METRICS_PORTS:-9464-9471}
PROXY_PORT=${PROXY_PORT:-18080}
CHECK_ONLY=false
[ "${1:-}" = "--check" ] && CHECK_ONLY=true

fail() { echo "run-stack: $*" >&2; exit 1; }

ALERTMANAGER=$(command -v prometheus-alertmanager || command -v alertmanager) \
    || fail "no Alertmanager: apt-get install prometheus-alertmanager"
PROMETHEUS=${PROMETHEUS:-$(command -v prometheus)} || fail "no Prometheus: apt-get install prometheus"
command -v promtool >/dev/null || fail "no promtool: apt-get install prometheus"
command -v amtool >/dev/null || fail "no amtool: apt-get install prometheus-alertmanager"
[ -x "$BIN/python" ] || fail "no $BIN/python: run make install first"

mkdir -p "$STACK"/prometheus/secrets "$STACK"/prometheus/rules "$STACK"/alertmanager/secrets \
    "$STACK"/rotel "$STACK"/prometheus/otel-targets
chmod 700 "$STACK"/prometheus/secrets "$STACK"/alertmanager/secrets

# The tokens the service and the stack share: made once, kept in var/stack/service.env (0600),
# with the telemetry settings for `make run`.
if [ ! -f "$STACK/service.env" ]; then
    token() { "$BIN/python" -c 'import secrets; print(secrets.token_hex(24))'; }
    (
        umask 077
        cat >"$STACK/service.env" <<EOF
# Written by deploy/local/run-stack.sh: the service's settings for the local stack.
# Use:  set -a; . var/stack/service.env; set +a; make run
OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$OTLP_GRPC_PORT
OTEL_METRICS_EXPORTER=otlp,prometheus
OTEL_EXPORTER_PROMETHEUS_PORT=$OTEL_METRICS_PORTS
OTEL_METRIC_EXPORT_INTERVAL=15000
METRICS_BEARER_TOKEN=$(token)
ALERTMANAGER_WEBHOOK_TOKEN=$(token)
PROMETHEUS_URL=http://127.0.0.1:$PROMETHEUS_PORT
PROMETHEUS_RULES_FILE=$STACK/prometheus/rules/observability-site.rules.yml
TELEMETRY_PROMETHEUS_TARGETS_DIR=$STACK/prometheus/otel-targets
# Clients come through the proxy (deploy/local/run-proxy.sh): one trusted hop.
NUM_PROXIES=1
EOF
    )
fi
# A service.env written before the proxy lacks the trusted hop.
if ! grep -q '^NUM_PROXIES=' "$STACK/service.env"; then
    echo "NUM_PROXIES=1" >>"$STACK/service.env"
fi
# A service.env written before the processes announced their ports lacks the directory.
if ! grep -q '^TELEMETRY_PROMETHEUS_TARGETS_DIR=' "$STACK/service.env"; then
    echo "TELEMETRY_PROMETHEUS_TARGETS_DIR=$STACK/prometheus/otel-targets" >>"$STACK/service.env"
fi
# A service.env written before the rules went live lacks the rules file: add it.
if ! grep -q '^PROMETHEUS_RULES_FILE=' "$STACK/service.env"; then
    echo "PROMETHEUS_RULES_FILE=$STACK/prometheus/rules/observability-site.rules.yml" \
        >>"$STACK/service.env"
fi
RULES_FILE=$(sed -n 's/^PROMETHEUS_RULES_FILE=//p' "$STACK/service.env")
METRICS_BEARER_TOKEN=$(sed -n 's/^METRICS_BEARER_TOKEN=//p' "$STACK/service.env")
ALERTMANAGER_WEBHOOK_TOKEN=$(sed -n 's/^ALERTMANAGER_WEBHOOK_TOKEN=//p' "$STACK/service.env")
printf '%s' "$METRICS_BEARER_TOKEN" >"$STACK/prometheus/secrets/metrics_token"
printf '%s' "$ALERTMANAGER_WEBHOOK_TOKEN" >"$STACK/alertmanager/secrets/webhook_token"
# No Slack or PagerDuty from a development machine: their notifications go to a closed port.
DEAD_URL="http://127.0.0.1:9/not-sent"
printf '%s' "$DEAD_URL" >"$STACK/alertmanager/secrets/slack_webhook_url"
printf '%s' "local-routing-key" >"$STACK/alertmanager/secrets/pagerduty_routing_key"

# The compose stack's configurations with this machine's addresses (targets by job name).
OTEL_METRICS_PORTS=$(sed -n 's/^OTEL_EXPORTER_PROMETHEUS_PORT=//p' "$STACK/service.env")
[ -n "$OTEL_METRICS_PORTS" ] || fail "$STACK/service.env predates OTEL_EXPORTER_PROMETHEUS_PORT: delete it"
"$BIN/python" - "$ROOT" "$STACK" "$PORT" "$PROMETHEUS_PORT" "$ALERTMANAGER_PORT" "$DEAD_URL" \
    "$OTEL_METRICS_PORTS" "$RULES_FILE" <<'PY'
import sys
from pathlib import Path

import yaml

root, stack = Path(sys.argv[1]), Path(sys.argv[2])
port, prometheus_port, alertmanager_port, dead_url, otel_ports, rules_file = sys.argv[3:9]

config = yaml.safe_load((root / "deploy/prometheus/prometheus.yml").read_text())
# The rules the service publishes (PROMETHEUS_RULES_FILE), not the repository's reference copy.
config["rule_files"] = [str(Path(rules_file).parent / "*.yml")]
config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = [
    f"127.0.0.1:{alertmanager_port}"
]
targets = {
    "observability-site": f"127.0.0.1:{port}",
    "prometheus": f"127.0.0.1:{prometheus_port}",
    # Once prometheus.yml scrapes Alertmanager (the meta-monitoring rules read its metrics).
    "alertmanager": f"127.0.0.1:{alertmanager_port}",
}
# rotel has no Prometheus endpoint of its own: the collector job is the compose stack's only.
config["scrape_configs"] = [job for job in config["scrape_configs"] if job["job_name"] in targets]
for job in config["scrape_configs"]:
    job["static_configs"] = [{"targets": [targets[job["job_name"]]]}]
# The OpenTelemetry metrics, served by each process of the service on a port of the range:
# each process writes the port it took into otel-targets/ and removes it when it stops
# (TELEMETRY_PROMETHEUS_TARGETS_DIR), so Prometheus scrapes exactly the processes that run,
# not the whole range (whose unused ports would show as down targets).
config["scrape_configs"].append(
    {
        "job_name": "observability-site-otel",
        "file_sd_configs": [
            {"files": [str(stack / "prometheus/otel-targets/*.json")], "refresh_interval": "5s"}
        ],
    }
)
(stack / "prometheus/prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))

config = yaml.safe_load((root / "deploy/alertmanager/alertmanager.yml").read_text())
secrets = stack / "alertmanager/secrets"
for receiver in config["receivers"]:
    for webhook in receiver.get("webhook_configs", []):
        webhook["url"] = webhook["url"].replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        webhook["http_config"]["authorization"]["credentials_file"] = str(secrets / "webhook_token")
    for slack in receiver.get("slack_configs", []):
        slack["api_url_file"] = str(secrets / "slack_webhook_url")
    for pagerduty in receiver.get("pagerduty_configs", []):
        pagerduty["routing_key_file"] = str(secrets / "pagerduty_routing_key")
        pagerduty["url"] = dead_url
(stack / "alertmanager/alertmanager.yml").write_text(yaml.safe_dump(config, sort_keys=False))
PY

promtool check config "$STACK/prometheus/prometheus.yml"
amtool check-config "$STACK/alertmanager/alertmanager.yml"
PORT=$PORT PROXY_PORT=$PROXY_PORT bash "$ROOT/deploy/local/run-proxy.sh" --check
if $CHECK_ONLY; then
    echo "configurations in $STACK are valid"
    exit 0
fi

ROTEL=$("$BIN/python" -c 'import pathlib, rotel; print(pathlib.Path(rotel.__file__).parent / "rotel-agent")')
[ -x "$ROTEL" ] || fail "no rotel-agent in $BIN: run make install first"

# Each server runs in a session of its own (setsid), so the terminal's Ctrl-C reaches this
# script only: it stops them, and says so, instead of finding them gone and reporting that a
# process of the stack failed.
pids=()
stopping=false
stop() {
    stopping=true
    trap - EXIT INT TERM
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    echo "stack stopped"
}
trap stop EXIT
trap 'stop; exit 0' INT TERM

setsid "$ALERTMANAGER" \
    --config.file="$STACK/alertmanager/alertmanager.yml" \
    --storage.path="$STACK/alertmanager/data" \
    --web.listen-address="127.0.0.1:$ALERTMANAGER_PORT" \
    --web.external-url="http://127.0.0.1:$ALERTMANAGER_PORT" \
    --cluster.listen-address= \
    >"$STACK/alertmanager/alertmanager.log" 2>&1 &
pids+=($!)

setsid "$PROMETHEUS" \
    --config.file="$STACK/prometheus/prometheus.yml" \
    --storage.tsdb.path="$STACK/prometheus/data" \
    --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" \
    --web.external-url="http://127.0.0.1:$PROMETHEUS_PORT" \
    --web.enable-lifecycle \
    --enable-feature=exemplar-storage \
    >"$STACK/prometheus/prometheus.log" 2>&1 &
pids+=($!)

(cd "$STACK/rotel" && exec setsid "$ROTEL" start \
    --otlp-grpc-endpoint "127.0.0.1:$OTLP_GRPC_PORT" \
    --otlp-http-endpoint "127.0.0.1:$OTLP_HTTP_PORT" \
    --exporter blackhole \
    --debug-log traces --debug-log metrics --debug-log logs --debug-log-verbosity basic \
    >"$STACK/rotel/rotel.log" 2>&1) &
pids+=($!)

ready() {  # ready NAME URL: wait up to 30 s for a 2xx
    for _ in $(seq 60); do
        curl -fsS -o /dev/null "$2" 2>/dev/null && return 0
        sleep 0.5
    done
    fail "$1 is not ready at $2; see the logs in $STACK"
}
# nginx in front of the service, as in production (deploy/local/run-proxy.sh): clients use
# http://127.0.0.1:$PROXY_PORT; service.env makes the service trust exactly that one hop.
PORT=$PORT PROXY_PORT=$PROXY_PORT setsid bash "$ROOT/deploy/local/run-proxy.sh" \
    >"$STACK/proxy.log" 2>&1 &
pids+=($!)

ready Alertmanager "http://127.0.0.1:$ALERTMANAGER_PORT/-/ready"
ready Prometheus "http://127.0.0.1:$PROMETHEUS_PORT/-/ready"
for _ in $(seq 60); do
    (exec 3<>"/dev/tcp/127.0.0.1/$OTLP_GRPC_PORT") 2>/dev/null && break
    sleep 0.5
done

# The rules in force: what the service's database holds, published as a save in the admin
# would be (reloaded and confirmed); the seeded rules' reference export until it can.
if (set -a; . "$STACK/service.env"; set +a; cd "$ROOT" \
    && "$BIN/python" manage.py export_alert_rules) >"$STACK/prometheus/publish.log" 2>&1; then
    RULES_STATE="published from the service's database"
elif [ -f "$RULES_FILE" ]; then
    RULES_STATE="the last rules published (now: see $STACK/prometheus/publish.log)"
else
    cp "$ROOT/deploy/prometheus/rules/alert_rules.yml" "$RULES_FILE"
    curl -fsS -X POST "http://127.0.0.1:$PROMETHEUS_PORT/-/reload" >/dev/null
    RULES_STATE="the seeded rules, until the service publishes its own (see $STACK/prometheus/publish.log)"
fi

cat <<EOF
Local stack running (data and logs in $STACK; Ctrl-C stops it):
  Prometheus    http://127.0.0.1:$PROMETHEUS_PORT  (/metrics, the OpenTelemetry metrics on $OTEL_METRICS_PORTS)
                rules in $RULES_FILE: $RULES_STATE
  Alertmanager  http://127.0.0.1:$ALERTMANAGER_PORT
  collector     OTLP 127.0.0.1:$OTLP_GRPC_PORT (gRPC), 127.0.0.1:$OTLP_HTTP_PORT (HTTP); what it received: $STACK/rotel/rotel.log
  proxy         http://127.0.0.1:$PROXY_PORT -> the service at 127.0.0.1:$PORT (nginx; limits in deploy/nginx/nginx.conf.template)
Start the service in another terminal, then use it through the proxy:
  set -a; . $STACK/service.env; set +a; make run
EOF
set +e
wait -n "${pids[@]}"
set -e
$stopping || fail "a process of the stack exited on its own; see the logs in $STACK"
