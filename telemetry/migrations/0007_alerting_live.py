"""Alerting goes live: rules and SLOs get a runbook, each publish to Prometheus is logged
(RulePublication), every change is in an audit trail (AlertingAuditEntry), and the
meta-monitoring rules are seeded: the service, its telemetry pipeline, the collector,
Alertmanager and Prometheus itself watched by the same Prometheus, each with a runbook in
docs/runbooks/.

The seeded rows are kept literal here (not imported from app code) so the migration means the
same thing forever. Reversing deletes a seeded meta rule only while it still holds exactly the
text seeded here (an edited one is left, and named); the runbooks of the earlier seeded rules
go with their column.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

META_GROUP = "meta_monitoring"
SERVICE_GROUP = "service_alerts"

# The runbooks of the rules seeded by 0002/0005 (docs/runbooks/<name>.md).
SERVICE_RUNBOOKS = {
    "HighErrorRate": "HighErrorRate",
    "HighLatency": "HighLatency",
    "TrafficSpike": "TrafficSpike",
}

META_RULES = [
    {
        "name": "ServiceTargetDown",
        "expr": 'up{job="observability-site"} == 0',
        "for_duration": "1m",
        "severity": "critical",
        "summary": "The service's target {{ $labels.instance }} is down",
        "description": (
            "Prometheus could not scrape /metrics of {{ $labels.instance }} (job "
            "{{ $labels.job }}) for a minute: the web process there is stopped, crashing or "
            "unreachable."
        ),
    },
    {
        "name": "ServiceTelemetryAbsent",
        "expr": 'absent(target_info{job=~"observability-site|observability-site-otel"})',
        "for_duration": "5m",
        "severity": "warning",
        "summary": "No OpenTelemetry metrics from any process of the service",
        "description": (
            "No process of the service has reported its OpenTelemetry metrics (target_info) "
            "for 5 minutes: the processes are down, or the way to Prometheus is broken "
            "(exporter, collector, OTLP receiver or scrape)."
        ),
    },
    {
        "name": "SpansDroppedQueueFull",
        "expr": (
            "sum by (job, instance) (rate(otel_sdk_processor_span_processed_total"
            '{error_type="queue_full"}[5m])) > 0'
        ),
        "for_duration": "2m",
        "severity": "warning",
        "summary": "{{ $labels.instance }} drops spans: its export queue is full",
        "description": (
            "{{ $labels.instance }} drops {{ printf \"%.2f\" $value }} spans/s because its batch "
            "span processor's queue is full: the collector is slow, refusing or unreachable."
        ),
    },
    {
        "name": "LogRecordsDroppedQueueFull",
        "expr": (
            "sum by (job, instance) (rate(otel_sdk_processor_log_processed_total"
            '{error_type="queue_full"}[5m])) > 0'
        ),
        "for_duration": "2m",
        "severity": "warning",
        "summary": "{{ $labels.instance }} drops log records: its export queue is full",
        "description": (
            "{{ $labels.instance }} drops {{ printf \"%.2f\" $value }} log records/s because its "
            "batch log record processor's queue is full: the collector is slow, refusing or "
            "unreachable."
        ),
    },
    {
        "name": "CollectorDown",
        "expr": 'up{job="otel-collector"} == 0',
        "for_duration": "2m",
        "severity": "critical",
        "summary": "The OpenTelemetry Collector {{ $labels.instance }} is down",
        "description": (
            "Prometheus could not scrape the collector's own metrics at {{ $labels.instance }} "
            "for 2 minutes: traces, metrics and logs of the service are not getting through."
        ),
    },
    {
        "name": "CollectorRefusingData",
        "expr": (
            "sum by (job, instance, receiver) (rate(otelcol_receiver_refused_spans_total[5m])) > 0\n"
            "or sum by (job, instance, receiver) "
            "(rate(otelcol_receiver_refused_metric_points_total[5m])) > 0\n"
            "or sum by (job, instance, receiver) "
            "(rate(otelcol_receiver_refused_log_records_total[5m])) > 0"
        ),
        "for_duration": "5m",
        "severity": "warning",
        "summary": "The collector refuses data on receiver {{ $labels.receiver }}",
        "description": (
            "The collector at {{ $labels.instance }} refuses {{ printf \"%.2f\" $value }} items/s "
            "on receiver {{ $labels.receiver }} (memory limiter, or a pipeline that cannot "
            "keep up): the service's exporters retry, then drop."
        ),
    },
    {
        "name": "CollectorExportFailing",
        "expr": (
            "sum by (job, instance, exporter) "
            "(rate(otelcol_exporter_send_failed_spans_total[5m])) > 0\n"
            "or sum by (job, instance, exporter) "
            "(rate(otelcol_exporter_send_failed_metric_points_total[5m])) > 0\n"
            "or sum by (job, instance, exporter) "
            "(rate(otelcol_exporter_send_failed_log_records_total[5m])) > 0"
        ),
        "for_duration": "5m",
        "severity": "warning",
        "summary": "The collector fails to send to {{ $labels.exporter }}",
        "description": (
            "Exporter {{ $labels.exporter }} of the collector at {{ $labels.instance }} fails "
            "to send {{ printf \"%.2f\" $value }} items/s: its backend is down, slow or refusing."
        ),
    },
    {
        "name": "CollectorQueueNearlyFull",
        "expr": (
            "max by (job, instance, exporter) (otelcol_exporter_queue_size)\n"
            "  / max by (job, instance, exporter) (otelcol_exporter_queue_capacity)\n"
            "  > 0.8"
        ),
        "for_duration": "5m",
        "severity": "warning",
        "summary": "The collector's queue for {{ $labels.exporter }} is nearly full",
        "description": (
            "The sending queue of exporter {{ $labels.exporter }} on {{ $labels.instance }} is "
            "{{ $value | humanizePercentage }} full: once full, the collector drops data."
        ),
    },
    {
        "name": "AlertmanagerNotificationsFailing",
        "expr": (
            "sum by (job, instance, integration) "
            "(rate(alertmanager_notifications_failed_total[5m])) > 0"
        ),
        "for_duration": "5m",
        "severity": "warning",
        "summary": "Alertmanager fails to notify through {{ $labels.integration }}",
        "description": (
            "Alertmanager at {{ $labels.instance }} fails {{ printf \"%.2f\" $value }} "
            "notifications/s through {{ $labels.integration }}: alerts may not reach people."
        ),
    },
    {
        "name": "PrometheusNotificationsFailing",
        "expr": (
            "sum by (job, instance, alertmanager) "
            "(rate(prometheus_notifications_errors_total[5m])) > 0"
        ),
        "for_duration": "5m",
        "severity": "warning",
        "summary": "Prometheus cannot hand alerts to Alertmanager {{ $labels.alertmanager }}",
        "description": (
            "Prometheus fails {{ printf \"%.2f\" $value }} alert deliveries/s to "
            "{{ $labels.alertmanager }}: firing alerts stay in Prometheus and the console."
        ),
    },
    {
        "name": "RuleEvaluationFailing",
        "expr": (
            "sum by (job, instance, rule_group) "
            "(increase(prometheus_rule_evaluation_failures_total[5m])) > 0"
        ),
        "for_duration": "5m",
        "severity": "warning",
        "summary": "Rules of group {{ $labels.rule_group }} fail to evaluate",
        "description": (
            "{{ printf \"%.0f\" $value }} evaluations of group {{ $labels.rule_group }} failed in "
            "the last 5 minutes: those alerts cannot fire."
        ),
    },
    {
        "name": "PrometheusConfigReloadFailed",
        "expr": "prometheus_config_last_reload_successful == 0",
        "for_duration": "5m",
        "severity": "warning",
        "summary": "Prometheus {{ $labels.instance }} failed to reload its configuration",
        "description": (
            "The last reload of {{ $labels.instance }} failed: it runs on the configuration and "
            "rules it had before, and a restart would not start until the files load."
        ),
    },
    {
        "name": "OldestQueuedJobTooOld",
        "expr": "max(processing_jobs_oldest_queued_age_seconds) > 300",
        "for_duration": "2m",
        "severity": "warning",
        "summary": "A processing job has waited more than 5 minutes in the queue",
        "description": (
            "The oldest queued job has waited {{ $value | humanizeDuration }}: no Celery worker "
            "is taking jobs, or the workers cannot keep up."
        ),
    },
]


def seed(apps, schema_editor):
    AlertRule = apps.get_model("telemetry", "AlertRule")
    Audit = apps.get_model("telemetry", "AlertingAuditEntry")
    for name, runbook in SERVICE_RUNBOOKS.items():
        AlertRule.objects.filter(group=SERVICE_GROUP, name=name, runbook="").update(runbook=runbook)
    for rule in META_RULES:
        row, created = AlertRule.objects.get_or_create(
            group=META_GROUP, name=rule["name"], defaults={**rule, "runbook": rule["name"]}
        )
        if created:
            Audit.objects.create(
                source="migration",
                actor_label="migration telemetry 0007_alerting_live",
                action="created",
                target_type="alert rule",
                target_id=row.pk,
                target_label=f"{META_GROUP}/{row.name}",
            )


def _normalised(text):
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def unseed(apps, schema_editor):
    AlertRule = apps.get_model("telemetry", "AlertRule")
    for rule in META_RULES:
        row = AlertRule.objects.filter(group=META_GROUP, name=rule["name"]).first()
        if row is None:
            continue
        texts = ("expr", "summary", "description")
        if any(_normalised(getattr(row, field)) != _normalised(rule[field]) for field in texts):
            print(
                f"\n  telemetry 0007 (reverse): alert rule {META_GROUP}/{row.name} was edited; kept"
            )
            continue
        row.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("telemetry", "0006_local_store"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="alertrule",
            name="runbook",
            field=models.CharField(
                blank=True,
                help_text="What to do when it fires: a page of docs/runbooks (e.g. HighErrorRate) or a URL. It becomes the runbook_url annotation.",
                max_length=300,
            ),
        ),
        migrations.AddField(
            model_name="slo",
            name="runbook",
            field=models.CharField(
                blank=True,
                default="SLOErrorBudgetBurn",
                help_text="The runbook of its burn-rate alerts: a page of docs/runbooks or a URL.",
                max_length=300,
            ),
        ),
        migrations.AlterField(
            model_name="alertevent",
            name="last_received_at",
            field=models.DateTimeField(auto_now=True, db_index=True),
        ),
        migrations.CreateModel(
            name="RulePublication",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("started_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                (
                    "source",
                    models.CharField(
                        choices=[
                            ("admin", "admin"),
                            ("api", "API"),
                            ("command", "command"),
                            ("migration", "migration"),
                        ],
                        max_length=20,
                    ),
                ),
                ("actor_label", models.CharField(blank=True, max_length=254, verbose_name="by")),
                ("reason", models.CharField(blank=True, max_length=300)),
                (
                    "outcome",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("live", "live: Prometheus loaded it"),
                            ("written", "written: no Prometheus to reload (PROMETHEUS_URL unset)"),
                            ("not_confirmed", "reloaded, but Prometheus does not show these rules"),
                            ("refused", "refused by Prometheus: the previous file is back"),
                            ("unreachable", "Prometheus unreachable: the previous file is back"),
                            ("invalid", "refused by promtool: nothing written"),
                            ("busy", "another publish held the lock"),
                            ("not_configured", "not published: PROMETHEUS_RULES_FILE unset"),
                            ("failed", "failed: the file could not be written"),
                        ],
                        db_index=True,
                        max_length=20,
                    ),
                ),
                ("message", models.TextField(blank=True)),
                ("rules_file", models.CharField(blank=True, max_length=500)),
                ("prometheus_url", models.CharField(blank=True, max_length=500)),
                ("sha256", models.CharField(blank=True, max_length=64)),
                ("rule_count", models.PositiveIntegerField(default=0)),
                ("contents", models.JSONField(blank=True, default=dict)),
                ("text", models.TextField(blank=True)),
                (
                    "actor",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-started_at", "-pk"],
            },
        ),
        migrations.CreateModel(
            name="AlertingAuditEntry",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("at", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("actor_label", models.CharField(blank=True, max_length=254, verbose_name="by")),
                (
                    "source",
                    models.CharField(
                        choices=[
                            ("admin", "admin"),
                            ("api", "API"),
                            ("command", "command"),
                            ("migration", "migration"),
                        ],
                        max_length=20,
                    ),
                ),
                (
                    "action",
                    models.CharField(
                        choices=[
                            ("created", "created"),
                            ("changed", "changed"),
                            ("enabled", "enabled"),
                            ("disabled", "disabled"),
                            ("deleted", "deleted"),
                            ("exported", "exported"),
                            ("published", "published"),
                            ("reloaded", "reloaded"),
                        ],
                        db_index=True,
                        max_length=20,
                    ),
                ),
                ("target_type", models.CharField(blank=True, max_length=20)),
                ("target_id", models.PositiveIntegerField(blank=True, null=True)),
                (
                    "target_label",
                    models.CharField(blank=True, max_length=300, verbose_name="target"),
                ),
                ("changes", models.JSONField(blank=True, default=dict)),
                ("detail", models.TextField(blank=True)),
                (
                    "actor",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "publication",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="telemetry.rulepublication",
                    ),
                ),
            ],
            options={
                "verbose_name": "alerting audit entry",
                "verbose_name_plural": "alerting audit trail",
                "ordering": ["-at", "-pk"],
            },
        ),
        migrations.RunPython(seed, unseed),
    ]
