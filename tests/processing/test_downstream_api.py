"""The stand-in downstream service (/api/downstream/enrich): public, validates its input."""

from __future__ import annotations

import pytest

DIGEST = "ab" * 32


@pytest.mark.parametrize(
    ("words", "size_class"), [(0, "short"), (49, "short"), (50, "medium"), (1000, "long")]
)
def test_it_classifies_by_size(anon_client, words, size_class):
    response = anon_client.post(
        "/api/downstream/enrich", {"words": words, "sha256": DIGEST}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["size_class"] == size_class
    assert response.json()["digest_prefix"] == DIGEST[:12]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"sha256": DIGEST}, "words"),
        ({"words": -1, "sha256": DIGEST}, "words"),
        ({"words": "many", "sha256": DIGEST}, "words"),
        ({"words": 3, "sha256": "not-hex"}, "sha256"),
    ],
)
def test_it_rejects_bad_input(anon_client, payload, field):
    response = anon_client.post("/api/downstream/enrich", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
