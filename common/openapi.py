"""The OpenAPI schema's error responses, worked out in one place for every operation.

drf-spectacular documents what a view's serializers say: the success response. The errors
an operation can answer come from its classes instead, and the same rules hold everywhere:
- 400 invalid input: a request body, or query parameters;
- 401 / 403: authenticators and a permission other than AllowAny (403 also for a session
  without its CSRF token);
- 404: a path parameter, or a paginated list (a page past the end);
- 413 / 415: a request body too large or not JSON (common.json_parser);
- 429: throttles; 503: a dependency (database, cache, broker) unavailable, with Retry-After.
A view adds its own with `error_responses = {409: "why"}` (or extend_schema). Every error
has the one shape of common.api_errors, the `Error` component.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from rest_framework import permissions, serializers

_WRITES = {"POST", "PUT", "PATCH"}


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable, e.g. invalid, not_found, throttled.")
    message = serializers.CharField()
    # The response's key is "fields", which Serializer.fields is too: DRF's metaclass moves
    # declared fields off the class, so only the type checker sees the clash.
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Invalid input only: the messages of each field.",
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()

    class Meta:
        ref_name = "Error"


class ErrorDocumentingAutoSchema(AutoSchema):
    """AutoSchema adding the error responses an operation can give (module docstring)."""

    def error_statuses(self) -> dict[str, str]:
        view = self.view
        statuses: dict[str, str] = {}
        if self.method in _WRITES or self.get_override_parameters():
            statuses["400"] = "Invalid input (field errors in `error.fields`)."
        guarded = any(not isinstance(p, permissions.AllowAny) for p in view.get_permissions())
        if guarded and view.get_authenticators():
            statuses["401"] = "Not authenticated."
            statuses["403"] = "Not allowed (permissions, or a session without its CSRF token)."
        if "{" in self.path or (
            self.method == "GET"
            and getattr(view, "pagination_class", None)
            and self._is_list_view()
        ):
            statuses["404"] = "Not found."
        if self.method in _WRITES:
            statuses["413"] = "Request body too large."
            statuses["415"] = "Unsupported media type (send application/json)."
        if view.get_throttles():
            statuses["429"] = "Too many requests (see Retry-After)."
        statuses.update({str(k): v for k, v in getattr(view, "error_responses", {}).items()})
        if view.get_authenticators() or view.get_throttles():
            statuses["503"] = (
                "A dependency (database, cache, broker) is unavailable; see Retry-After."
            )
        return statuses

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code, description in self.error_statuses().items():
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    ErrorSerializer, code, direction=direction
                )
                responses[code]["description"] = description
        return responses
