"""The seeded alert rules and SLO move from django-prometheus's request series (gone from
/metrics since its request middlewares were removed) to OpenTelemetry's
http.server.request.duration histogram, as Prometheus names it: per route template
(http_route) instead of per view.

Only rows that still hold exactly the text 0002 seeded are rewritten (the reverse: exactly the
text below). A row an operator edited is left as it is, and the migration says so: it is theirs
to move to the new series. The text is compared with line endings and surrounding whitespace
normalised (the admin's textarea sends CRLF, its forms strip), and only the fields rewritten
here are compared: severity, `for`, labels and enabled are not touched, so an operator's
choices there stay.

Kept literal here (not imported from app code) so the migration means the same thing forever.
"""

from django.db import migrations

GROUP = "service_alerts"

# Exactly what 0002 seeded.
DJANGO_PROMETHEUS_RULES = {
    "HighErrorRate": {
        "expr": (
            "sum by (view) (rate(django_http_responses_total_by_status_view_method_total"
            '{status=~"5.."}[5m]))\n'
            "  / sum by (view) (rate(django_http_responses_total_by_status_view_method_total"
            "[5m]))\n"
            "  > 0.05"
        ),
        "summary": "High 5xx error rate on {{ $labels.view }}",
        "description": (
            "{{ $value | humanizePercentage }} of the responses of view {{ $labels.view }} "
            "were server errors (5xx) over the last 5 minutes."
        ),
    },
    "HighLatency": {
        "expr": (
            "histogram_quantile(0.99,\n"
            "  sum by (view, le) "
            "(rate(django_http_requests_latency_seconds_by_view_method_bucket[5m]))\n"
            ") > 1"
        ),
        "summary": "High p99 latency on {{ $labels.view }}",
        "description": (
            "The p99 latency of view {{ $labels.view }} is {{ $value | humanizeDuration }}."
        ),
    },
    "TrafficSpike": {
        "expr": (
            "sum(rate(django_http_requests_total_by_view_transport_method_total[1m]))\n"
            "  > 2 * sum(rate(django_http_requests_total_by_view_transport_method_total"
            "[1m] offset 5m))\n"
            "and sum(rate(django_http_requests_total_by_view_transport_method_total[1m])) > 1"
        ),
        "summary": "Traffic spike",
        "description": (
            "The request rate ({{ $value | humanize }}/s) more than doubled compared with "
            "5 minutes ago."
        ),
    },
}
DJANGO_PROMETHEUS_SLOS = {
    "api_availability": {
        "description": "Requests answered without a server error (scrapes of /metrics excluded)",
        "good_series": (
            "django_http_responses_total_by_status_view_method_total"
            '{status!~"5..",view!="prometheus-django-metrics"}'
        ),
        "total_series": (
            'django_http_responses_total_by_status_view_method_total{view!="prometheus-django-metrics"}'
        ),
    }
}

# The same rules on the OpenTelemetry series, per route template.
OPENTELEMETRY_RULES = {
    "HighErrorRate": {
        "expr": (
            "sum by (http_route) (rate(http_server_request_duration_seconds_count"
            '{http_response_status_code=~"5.."}[5m]))\n'
            "  / sum by (http_route) (rate(http_server_request_duration_seconds_count[5m]))\n"
            "  > 0.05"
        ),
        "summary": "High 5xx error rate on {{ $labels.http_route }}",
        "description": (
            "{{ $value | humanizePercentage }} of the responses on route "
            "{{ $labels.http_route }} were server errors (5xx) over the last 5 minutes."
        ),
    },
    "HighLatency": {
        "expr": (
            "histogram_quantile(0.99,\n"
            "  sum by (http_route, le) (rate(http_server_request_duration_seconds_bucket[5m]))\n"
            ") > 1"
        ),
        "summary": "High p99 latency on {{ $labels.http_route }}",
        "description": (
            "The p99 latency of route {{ $labels.http_route }} is {{ $value | humanizeDuration }}."
        ),
    },
    "TrafficSpike": {
        "expr": (
            "sum(rate(http_server_request_duration_seconds_count[1m]))\n"
            "  > 2 * sum(rate(http_server_request_duration_seconds_count[1m] offset 5m))\n"
            "and sum(rate(http_server_request_duration_seconds_count[1m])) > 1"
        ),
        "summary": "Traffic spike",
        "description": (
            "The request rate ({{ $value | humanize }}/s) more than doubled compared with "
            "5 minutes ago."
        ),
    },
}
# The probes and /metrics are not instrumented, so nothing needs excluding any more.
OPENTELEMETRY_SLOS = {
    "api_availability": {
        "description": "Requests answered without a server error",
        "good_series": (
            'http_server_request_duration_seconds_count{http_response_status_code!~"5.."}'
        ),
        "total_series": "http_server_request_duration_seconds_count",
    }
}


def _normalised(text: str) -> str:
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def _rewrite(find, what, before, after):
    """Give each row FIND(key) the text AFTER[key] if it holds exactly BEFORE[key]."""
    for key, expected in before.items():
        row = find(key)
        if row is None:
            continue  # deleted by an operator: nothing to do
        if any(_normalised(getattr(row, f)) != _normalised(v) for f, v in expected.items()):
            print(f"\n  {what}{key} was edited; left as it is (update it by hand)")
            continue
        for field, value in after[key].items():
            setattr(row, field, value)
        row.save()


def _rewrite_all(apps, rules_before, rules_after, slos_before, slos_after, step):
    AlertRule = apps.get_model("telemetry", "AlertRule")
    SLO = apps.get_model("telemetry", "SLO")
    _rewrite(
        lambda name: AlertRule.objects.filter(group=GROUP, name=name).first(),
        f"telemetry {step}: alert rule {GROUP}/",
        rules_before,
        rules_after,
    )
    _rewrite(
        lambda name: SLO.objects.filter(name=name).first(),
        f"telemetry {step}: SLO ",
        slos_before,
        slos_after,
    )


def to_opentelemetry(apps, schema_editor):
    _rewrite_all(
        apps,
        DJANGO_PROMETHEUS_RULES,
        OPENTELEMETRY_RULES,
        DJANGO_PROMETHEUS_SLOS,
        OPENTELEMETRY_SLOS,
        "0005",
    )


def to_django_prometheus(apps, schema_editor):
    _rewrite_all(
        apps,
        OPENTELEMETRY_RULES,
        DJANGO_PROMETHEUS_RULES,
        OPENTELEMETRY_SLOS,
        DJANGO_PROMETHEUS_SLOS,
        "0005 (reverse)",
    )


class Migration(migrations.Migration):
    dependencies = [("telemetry", "0004_sampling_policy")]

    operations = [migrations.RunPython(to_opentelemetry, to_django_prometheus)]
