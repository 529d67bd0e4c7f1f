"""The Logs page: newest first, filtered by level, logger (and its children), text and trace
id, each line linked to its trace."""

from __future__ import annotations

import re

import pytest

from tests.telemetry.explorer.pages import JOB_TRACE, fill_store
from tests.telemetry.explorer.support import store_db

pytestmark = store_db
URL = "/admin/telemetry/console/logs/"


def bodies(response) -> list[str]:
    assert response.status_code == 200, response.content.decode()[:2000]
    return re.findall(
        r'<td class="message">([^<]+?)\s*(?:<br>|</td>|<details>)', response.content.decode()
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            {},
            ["downstream unavailable, will retry", "processing data", "job queued", "an old line"],
        ),
        ({"level": "WARNING"}, ["downstream unavailable, will retry", "an old line"]),
        ({"level": "ERROR"}, ["an old line"]),
        (
            {"logger": "processing"},
            ["downstream unavailable, will retry", "processing data", "job queued"],
        ),
        ({"logger": "processing.services"}, ["processing data"]),
        ({"logger": "process"}, []),  # a logger's children, not any prefix
        ({"text": "WILL RETRY"}, ["downstream unavailable, will retry"]),
        (
            {"trace_id": JOB_TRACE},
            ["downstream unavailable, will retry", "processing data", "job queued"],
        ),
        ({"last": "1h"}, ["downstream unavailable, will retry", "processing data", "job queued"]),
    ],
)
def test_it_filters(staff_session, query, expected):
    fill_store()
    assert bodies(staff_session.get(URL, query)) == expected


def test_each_line_links_to_its_trace_and_span(staff_session):
    fill_store()
    page = staff_session.get(URL, {"text": "processing data"}).content.decode()

    assert f'href="/admin/telemetry/console/traces/{JOB_TRACE}/#span-eeeeeeeeeeeeeeee"' in page
