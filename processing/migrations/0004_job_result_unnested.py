"""A job's result is the processing result itself ({"analysis", "enrichment"}), no longer the
whole outcome of process_data nested under "result" (which the API showed as result.result).
Rows stored the old way are unwrapped; reversing wraps them again."""

from django.db import migrations

OLD_KEYS = {"result", "processing_time_ms"}


def unwrap(apps, schema_editor):
    ProcessingJob = apps.get_model("processing", "ProcessingJob")
    changed = []
    for job in ProcessingJob.objects.exclude(result=None).only("id", "result").iterator():
        if isinstance(job.result, dict) and "result" in job.result and set(job.result) <= OLD_KEYS:
            job.result = job.result["result"]
            changed.append(job)
        if len(changed) >= 500:
            ProcessingJob.objects.bulk_update(changed, ["result"])
            changed = []
    ProcessingJob.objects.bulk_update(changed, ["result"])


def wrap(apps, schema_editor):
    ProcessingJob = apps.get_model("processing", "ProcessingJob")
    changed = []
    for job in ProcessingJob.objects.filter(status="succeeded").exclude(result=None).iterator():
        job.result = {"result": job.result, "processing_time_ms": None}
        changed.append(job)
    ProcessingJob.objects.bulk_update(changed, ["result"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [("processing", "0003_job_trace_id")]

    operations = [migrations.RunPython(unwrap, wrap)]
