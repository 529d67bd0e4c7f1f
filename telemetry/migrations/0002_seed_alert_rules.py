"""The seed tutorial's three alerts, rewritten to series this service really exposes at
/metrics (django-prometheus), and one availability SLO.

Kept literal here (not imported from app code) so the migration means the same thing forever.
"""

from django.db import migrations

RESPONSES = "django_http_responses_total_by_status_view_method_total"
LATENCY_BUCKETS = "django_http_requests_latency_seconds_by_view_method_bucket"
REQUESTS = "django_http_requests_total_by_view_transport_method_total"

RULES = [
    {
        "name": "HighErrorRate",
        # The seed alerted on an absolute rate of an app_errors_total counter; a share of 5xx
        # per view means the same at any traffic level.
        "expr": (
            f'sum by (view) (rate({RESPONSES}{{status=~"5.."}}[5m]))\n'
            f"  / sum by (view) (rate({RESPONSES}[5m]))\n"
            "  > 0.05"
        ),
        "for_duration": "5m",
        "severity": "warning",
        "summary": "High 5xx error rate on {{ $labels.view }}",
        "description": (
            "{{ $value | humanizePercentage }} of the responses of view {{ $labels.view }} "
            "were server errors (5xx) over the last 5 minutes."
        ),
    },
    {
        "name": "HighLatency",
        # Seconds, not the seed's milliseconds: django-prometheus histograms are in seconds.
        "expr": (
            "histogram_quantile(0.99,\n"
            f"  sum by (view, le) (rate({LATENCY_BUCKETS}[5m]))\n"
            ") > 1"
        ),
        "for_duration": "5m",
        "severity": "warning",
        "summary": "High p99 latency on {{ $labels.view }}",
        "description": "The p99 latency of view {{ $labels.view }} is {{ $value | humanizeDuration }}.",
    },
    {
        "name": "TrafficSpike",
        # The seed's comparison alone fires on any blip when the baseline is near zero, so
        # the spike must also be real traffic (more than 1 request/s).
        "expr": (
            f"sum(rate({REQUESTS}[1m]))\n"
            f"  > 2 * sum(rate({REQUESTS}[1m] offset 5m))\n"
            f"and sum(rate({REQUESTS}[1m])) > 1"
        ),
        "for_duration": "2m",
        "severity": "info",
        "summary": "Traffic spike",
        "description": (
            "The request rate ({{ $value | humanize }}/s) more than doubled compared with "
            "5 minutes ago."
        ),
    },
]

SLOS = [
    {
        "name": "api_availability",
        "description": "Requests answered without a server error (scrapes of /metrics excluded)",
        "objective": "99.5",
        "window": "30d",
        "good_series": (
            f'{RESPONSES}{{status!~"5..",view!="prometheus-django-metrics"}}'
        ),
        "total_series": f'{RESPONSES}{{view!="prometheus-django-metrics"}}',
    }
]


def seed(apps, schema_editor):
    AlertRule = apps.get_model("telemetry", "AlertRule")
    SLO = apps.get_model("telemetry", "SLO")
    for rule in RULES:
        AlertRule.objects.update_or_create(
            group="service_alerts", name=rule["name"], defaults=rule
        )
    for slo in SLOS:
        SLO.objects.update_or_create(name=slo["name"], defaults=slo)


def unseed(apps, schema_editor):
    apps.get_model("telemetry", "AlertRule").objects.filter(
        group="service_alerts", name__in=[r["name"] for r in RULES]
    ).delete()
    apps.get_model("telemetry", "SLO").objects.filter(name__in=[s["name"] for s in SLOS]).delete()


class Migration(migrations.Migration):
    dependencies = [("telemetry", "0001_alerting")]

    operations = [migrations.RunPython(seed, unseed)]
