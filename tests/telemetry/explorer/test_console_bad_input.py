"""Bad input on the console's pages is a readable message (400), never a server error."""

from __future__ import annotations

import pytest

from tests.telemetry.explorer.pages import fill_store
from tests.telemetry.explorer.support import store_db

pytestmark = store_db


@pytest.mark.parametrize(
    ("url", "query", "message"),
    [
        ("traces", {"trace_id": "not-a-trace"}, "is not a trace id (32 hexadecimal digits)"),
        ("traces", {"trace_id": "0" * 32}, "The all-zero trace id is invalid."),
        ("traces", {"min_duration": "fast"}, "is not a duration"),
        ("traces", {"min_duration": "3000000s"}, "longer than a day"),
        ("traces", {"since": "2026-13-45"}, "Enter a valid date/time."),
        ("traces", {"since": "1900-01-01T00:00"}, "is outside what the store holds"),
        ("traces", {"since": "9999-01-01T00:00"}, "is outside what the store holds"),
        (
            "traces",
            {"since": "2026-02-01T00:00", "until": "2026-01-01T00:00"},
            "The end of the time range is before its start.",
        ),
        (
            "traces",
            {"since": "2001-01-01T00:00", "until": "2026-01-01T00:00"},
            "longer than a year",
        ),
        ("traces", {"service": "no-such-service"}, "Select a valid choice."),
        ("traces", {"role": "<script>"}, "Select a valid choice."),
        ("traces", {"status": "broken"}, "Select a valid choice."),
        ("traces", {"page": "0"}, "greater than or equal to 1"),
        ("traces", {"page": "many"}, "Enter a whole number."),
        ("traces", {"last": "forever"}, "Select a valid choice."),
        ("logs", {"level": "LOUD"}, "Select a valid choice."),
        ("logs", {"trace_id": "xyz"}, "is not a trace id"),
        ("logs", {"text": "x" * 500}, "at most 200 characters"),
        ("overview", {"window": "1y"}, "Select a valid choice."),
    ],
)
def test_a_bad_filter_is_a_message_on_the_page(staff_session, url, query, message):
    fill_store()
    response = staff_session.get(f"/admin/telemetry/console/{url}/", query)

    assert response.status_code == 400
    page = response.content.decode()
    assert message in page
    assert "<script>" not in page.split("<body")[1].split("</form>")[0].replace("&lt;", "")


@pytest.mark.parametrize("trace_id", ["xyz", "0af7651916cd43dd8448eb211c80319", "g" * 32])
def test_a_malformed_trace_id_in_the_url_is_a_message(staff_session, trace_id):
    response = staff_session.get(f"/admin/telemetry/console/traces/{trace_id}/")

    assert response.status_code == 400
    assert "is not a trace id" in response.content.decode()


def test_a_trace_the_store_does_not_hold_says_why_it_may_be_missing(staff_session, settings):
    settings.TRACE_VIEWER_URL = "http://jaeger.example/trace/{trace_id}"
    response = staff_session.get(f"/admin/telemetry/console/traces/{'ab' * 16}/")

    assert response.status_code == 404
    page = response.content.decode()
    assert "holds no span or log record of trace" in page
    assert f'href="http://jaeger.example/trace/{"ab" * 16}"' in page  # still a way to look
