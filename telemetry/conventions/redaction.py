"""What this service keeps of request data that can carry personal data."""

from __future__ import annotations


def redacted_query(query: str) -> str:
    """Keep a query string's parameter names, drop their values: values can carry personal
    data (?email=...), and the span needs only the shape of the request."""
    names = (part.partition("=") for part in query.split("&") if part)
    return "&".join(f"{name}=REDACTED" if equals else name for name, equals, _ in names)
