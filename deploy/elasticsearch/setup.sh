#!/usr/bin/env bash
# One-shot set-up of the compose stack's Elasticsearch (service es-setup), as in Elastic's
# docker-compose example: waits for the cluster, then sets the password of the built-in
# kibana_system user and creates two least-privilege users, each with its own password:
#   otel_collector  writes logs-* data streams (the collector's elasticsearch exporter)
#   grafana_reader  reads logs-* (Grafana's Elasticsearch datasource)
# Idempotent: every call is a PUT/POST that can repeat. Passwords come from the environment
# (deploy/.env); they are sent in JSON bodies, so keep them to letters, digits, - and _.
set -euo pipefail
: "${ELASTIC_PASSWORD:?}" "${KIBANA_SYSTEM_PASSWORD:?}" "${OTEL_COLLECTOR_ES_PASSWORD:?}" \
  "${GRAFANA_ES_PASSWORD:?}"
ES=${ES_URL:-http://elasticsearch:9200}

es() {  # es METHOD PATH [JSON]: fails on an HTTP error, prints the answer
    curl --silent --show-error --fail-with-body -u "elastic:${ELASTIC_PASSWORD}" \
        -H 'Content-Type: application/json' -X "$1" "$ES$2" ${3:+--data "$3"}
    echo
}

echo "waiting for Elasticsearch at $ES"
until curl --silent --fail -u "elastic:${ELASTIC_PASSWORD}" \
    "$ES/_cluster/health?wait_for_status=yellow&timeout=5s" >/dev/null; do
    sleep 2
done

echo "kibana_system password"
es POST /_security/user/kibana_system/_password "{\"password\":\"${KIBANA_SYSTEM_PASSWORD}\"}"

echo "role and user otel_collector (writes logs-*)"
es PUT /_security/role/otel_logs_writer \
    '{"indices":[{"names":["logs-*"],"privileges":["auto_configure","create_doc","view_index_metadata"]}]}'
es PUT /_security/user/otel_collector \
    "{\"password\":\"${OTEL_COLLECTOR_ES_PASSWORD}\",\"roles\":[\"otel_logs_writer\"]}"

echo "role and user grafana_reader (reads logs-*)"
es PUT /_security/role/logs_reader \
    '{"cluster":["monitor"],"indices":[{"names":["logs-*"],"privileges":["read","view_index_metadata"]}]}'
es PUT /_security/user/grafana_reader \
    "{\"password\":\"${GRAFANA_ES_PASSWORD}\",\"roles\":[\"logs_reader\"]}"

echo "Elasticsearch set up"
