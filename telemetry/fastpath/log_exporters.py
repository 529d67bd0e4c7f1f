"""The OTLP log exporters of the SDK, sending what telemetry.fastpath.log_encoder writes:
the same messages, encoded about three times faster (bench/log_encoding.py)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from opentelemetry.exporter.otlp.proto.grpc._log_exporter import (
    OTLPLogExporter as OfficialGrpcLogExporter,
)
from opentelemetry.exporter.otlp.proto.http._common import (
    RequestPayloadTooLargeError,
    _is_request_too_large,
)
from opentelemetry.exporter.otlp.proto.http._log_exporter import (
    OTLPLogExporter as OfficialHttpLogExporter,
)
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExportResult
from opentelemetry.semconv.attributes.http_attributes import HTTP_RESPONSE_STATUS_CODE

from telemetry.fastpath.log_encoder import encode_logs, encode_logs_to_bytes

# The official exporter's logger: its lines stay where operators filter them, and, being an
# opentelemetry.* logger, out of the OTLP log pipeline they report on
# (telemetry.pipeline.instrumentation._not_from_the_sdk).
_logger = logging.getLogger(OfficialHttpLogExporter.__module__)


class GrpcLogExporter(OfficialGrpcLogExporter):
    """The OTLP/gRPC log exporter, encoding with `encode_logs`. Its constructor arguments
    and OTEL_EXPORTER_OTLP_* variables are those of the official exporter."""

    def _translate_data(self, data: Sequence[ReadableLogRecord]) -> ExportLogsServiceRequest:
        return encode_logs(data)


class HttpLogExporter(OfficialHttpLogExporter):
    """The OTLP/HTTP log exporter, sending the bytes of `encode_logs_to_bytes` as they are.
    Its constructor arguments and OTEL_EXPORTER_OTLP_* variables are those of the official
    exporter."""

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        # The official export() with its one encoding line changed: it calls a module-level
        # encode_logs that no subclass can replace. Kept in step with the installed one by
        # tests/telemetry/fastpath/test_http_export_copies.py (telemetry.upstream).
        if self._shutdown:
            _logger.warning("Exporter already shutdown, ignoring batch")
            return LogRecordExportResult.FAILURE

        with self._metrics.export_operation(len(batch)) as result:
            try:
                serialized_data = encode_logs_to_bytes(batch)
            except Exception as error:
                _logger.error("Failed to encode logs batch: %s", error)
                result.error = error
                return LogRecordExportResult.FAILURE

            if _is_request_too_large(serialized_data, self._max_request_size):
                _logger.warning(
                    "Dropping logs batch: serialized size %d bytes exceeds "
                    "max_request_size %d bytes.",
                    len(serialized_data),
                    self._max_request_size,
                )
                result.error = RequestPayloadTooLargeError(
                    f"Serialized logs request size {len(serialized_data)} "
                    f"bytes exceeds max_request_size "
                    f"{self._max_request_size} bytes."
                )
                return LogRecordExportResult.FAILURE

            export_result = self._client.export(serialized_data)
            if not export_result.success:
                result.error = export_result.error
                result.error_attrs = (
                    {HTTP_RESPONSE_STATUS_CODE: export_result.status_code}
                    if export_result.status_code is not None
                    else None
                )
                return LogRecordExportResult.FAILURE
        return LogRecordExportResult.SUCCESS
