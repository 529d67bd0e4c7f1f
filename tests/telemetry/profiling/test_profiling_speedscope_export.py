"""A real run's speedscope exports (merged, per process, per capture) validate against the
file-format schema that the speedscope npm package ships, and their weights are the run's
times: what speedscope's sandwich view shows as a function's total is the table's."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from django.conf import settings as django_settings

from telemetry.profiling import agent as profiling_agent
from telemetry.profiling.report import run_table
from tests.telemetry.profiling.support import start_run

pytestmark = pytest.mark.django_db

VIEW = "DownstreamEnrichApi.post"


def shipped_schema() -> dict:
    path = Path(django_settings.PROFILING_SPEEDSCOPE_DIR) / "file-format-schema.json"
    assert path.is_file(), f"{path} is missing: `make install` runs `npm ci` (package.json)"
    return json.loads(path.read_text())


def function_totals(document: dict, profile_index: int = 0) -> dict[str, float]:
    """What speedscope computes as each frame's total: the weight of every sample whose
    stack contains it (once per sample)."""
    frames = document["shared"]["frames"]
    profile = document["profiles"][profile_index]
    totals: dict[str, float] = {}
    for stack, weight in zip(profile["samples"], profile["weights"], strict=True):
        for index in set(stack):
            name = frames[index]["name"]
            totals[name] = totals.get(name, 0.0) + weight
    return totals


def test_a_real_runs_exports_validate_against_speedscopes_own_schema(client, staff_session):
    schema = shipped_schema()
    run = start_run(max_captures=100)
    for words in (20, 200, 2000):
        body = {"words": words, "sha256": "ab" * 32}
        assert client.post("/api/downstream/enrich", body, "application/json").status_code == 200
    profiling_agent.tick()

    base = f"/admin/telemetry/profilingrun/{run.pk}"
    (process,) = run.results.values_list("process", flat=True)
    capture = run.captures_kept.first()
    urls = [f"{base}/speedscope.json", f"{base}/speedscope.json?process={process}"]
    urls.append(f"{base}/speedscope.json?capture={capture.pk}")
    for url in urls:
        response = staff_session.get(url)
        assert response.status_code == 200, url
        assert response["Content-Type"] == "application/json"
        document = json.loads(response.content)
        jsonschema.validate(document, schema)
        profile = document["profiles"][0]
        assert profile["type"] == "sampled" and profile["unit"] == "seconds"
        assert len(profile["samples"]) == len(profile["weights"]) > 10
        assert profile["endValue"] == pytest.approx(sum(profile["weights"]), rel=1e-6)
        names = {frame["name"] for frame in document["shared"]["frames"]}
        assert VIEW in names, url

    # The merged export's totals are the table's.
    totals = function_totals(json.loads(staff_session.get(urls[0]).content))
    (view,) = [costs for key, costs in run_table(run).functions.items() if key[2] == VIEW]
    assert totals[VIEW] == pytest.approx(view.total, rel=0.02)
    download = staff_session.get(f"{base}/download/speedscope/")
    assert "attachment" in download["Content-Disposition"]
    jsonschema.validate(json.loads(download.content), schema)


def test_a_bad_capture_or_process_is_a_404(staff_session):
    run = start_run()
    base = f"/admin/telemetry/profilingrun/{run.pk}/speedscope.json"
    assert staff_session.get(f"{base}?capture=nope").status_code == 404
    assert staff_session.get(f"{base}?capture=12345").status_code == 404
    assert staff_session.get(f"{base}?process=web:nowhere:1").status_code == 404
    missing = staff_session.get("/admin/telemetry/profilingrun/999999/speedscope.json")
    assert missing.status_code == 404
