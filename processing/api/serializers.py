from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common.api_fields import StrictCharField
from processing.models import ProcessingJob


class ProcessInputSerializer(serializers.Serializer):
    # The request's field is named "data". DRF's metaclass moves declared fields off the class,
    # so Serializer.data (the property the stubs see) is untouched at run time.
    data = StrictCharField(trim_whitespace=False)  # type: ignore[assignment]

    def validate_data(self, value: str) -> str:
        limit = settings.PROCESSING_MAX_DATA_CHARS
        if len(value) > limit:
            raise serializers.ValidationError(
                f"Ensure this field has no more than {limit} characters (it has {len(value)})."
            )
        return value


class ProcessOutputSerializer(serializers.Serializer):
    result = serializers.JSONField()
    processing_time_ms = serializers.FloatField()


class JobTimingsSerializer(serializers.Serializer):
    queued_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    queue_wait_ms = serializers.FloatField(allow_null=True)
    run_ms = serializers.FloatField(allow_null=True)


class JobOutputSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(
        view_name="processing:job-detail", lookup_url_kwarg="job_id"
    )
    timings = serializers.SerializerMethodField()

    class Meta:
        model = ProcessingJob
        fields = ["id", "url", "status", "result", "error", "attempts", "timings", "trace_id"]
        read_only_fields = fields

    @extend_schema_field(JobTimingsSerializer)
    def get_timings(self, job: ProcessingJob) -> dict[str, object]:
        def ms(start, end):
            return round((end - start).total_seconds() * 1000, 3) if start and end else None

        return {
            "queued_at": job.queued_at,
            "started_at": job.started_at,
            "finished_at": job.finished_at,
            "queue_wait_ms": ms(job.queued_at, job.started_at),
            "run_ms": ms(job.started_at, job.finished_at),
        }


class EnrichInputSerializer(serializers.Serializer):
    words = serializers.IntegerField(min_value=0)
    sha256 = serializers.RegexField(r"^[0-9a-f]{64}$")


class EnrichOutputSerializer(serializers.Serializer):
    size_class = serializers.ChoiceField(choices=["short", "medium", "long"])
    reading_time_seconds = serializers.FloatField()
    digest_prefix = serializers.CharField(help_text="The first 12 hex digits of the sha256.")
