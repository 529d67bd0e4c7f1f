"""Domain errors of the processing app. Each names the HTTP status and code that the API's
single exception handler answers with."""

from common.errors import DomainError


class ProcessingError(DomainError):
    status_code = 500
    code = "processing_error"


class DownstreamUnavailable(ProcessingError):
    """The downstream service could not be reached or failed (5xx, timeout): worth a retry."""

    status_code = 502
    code = "downstream_unavailable"


class DownstreamRejected(ProcessingError):
    """The downstream service refused the request (4xx): retrying will not help."""

    status_code = 502
    code = "downstream_rejected"


class JobNotQueued(ProcessingError):
    """The job row was stored, but the broker would not take the message."""

    status_code = 503
    code = "broker_unavailable"
