"""The OpenAPI schema documents every status an operation can answer, with the one error
shape (issue 15: success responses only), and the operations' own fixes: the enrich
response, and a token login that needs no token."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema: dict):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method.upper(), operation


def test_every_operation_documents_its_errors_with_the_error_shape(schema):
    assert set(schema["components"]["schemas"]["Error"]["properties"]) == {"error"}
    for path, method, operation in operations(schema):
        codes = set(operation["responses"])
        assert any(code.startswith("2") for code in codes), (path, method)
        if method in ("POST", "PUT", "PATCH"):
            assert {"400", "413", "415"} <= codes, (path, method, codes)
        if "{" in path:
            assert "404" in codes, (path, method, codes)
        for code, response in operation["responses"].items():
            if code[0] in "45" and "content" in response:
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/Error", (path, method, code)


def test_guarded_throttled_operations_document_401_403_429_503(schema):
    users = schema["paths"]["/api/users"]["post"]["responses"]
    assert {"400", "401", "403", "429", "503"} <= set(users)
    assert "502" in schema["paths"]["/api/process"]["post"]["responses"]
    # The stand-in for an external API: open, unthrottled, touching nothing of ours.
    enrich = schema["paths"]["/api/downstream/enrich"]["post"]["responses"]
    assert not {"401", "403", "429"} & set(enrich)


def test_the_enrich_response_and_the_token_login_are_described_as_they_are(schema):
    enrich = schema["paths"]["/api/downstream/enrich"]["post"]
    ok = enrich["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ok == "#/components/schemas/EnrichOutput"
    login = schema["paths"]["/api/auth/token"]["post"]
    assert login.get("security", []) in ([], [{}]), login.get("security")
    assert "429" in login["responses"] and "401" not in login["responses"]
    token = login["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert token == "#/components/schemas/AuthTokenOutput"
