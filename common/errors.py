"""The base class of the errors that services raise for the API to answer.

A service says what went wrong in its own terms; the one DRF exception handler
(common.api_errors) turns any DomainError into the error body with the status and code the
error names, so no view translates errors by hand.
"""

from __future__ import annotations


class DomainError(Exception):
    """An expected failure of a service, with the HTTP status and code an API answers with."""

    status_code: int = 400
    code: str = "error"
