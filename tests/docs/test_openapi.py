"""The gateway's OpenAPI document (schemas/openapi.json) is the contract of the HTTP side: it is
the app's own, complete, and says what the gateway really returns."""

import json
from pathlib import Path
from typing import Any

from hitl.gateway.app import openapi_document
from hitl_contract import KIND_NAMES
from hitl_contract.export import dumps_json

OPENAPI = Path(__file__).resolve().parents[2] / "schemas" / "openapi.json"
PROBLEM = "application/problem+json"


def test_committed_openapi_is_the_apps_document() -> None:
    assert OPENAPI.read_text() == dumps_json(openapi_document()), (
        "schemas/openapi.json drifted from the gateway; run `hitl schemas export` and commit it"
    )


def test_every_error_response_is_a_problem() -> None:
    document = openapi_document()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400 and not (path == "/readyz" and status == "503"):
                    assert list(response["content"]) == [PROBLEM], (method, path, status)
    assert "HTTPValidationError" not in json.dumps(document)


def test_every_v1_operation_says_how_it_fails() -> None:
    for path, operations in openapi_document()["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, operation in operations.items():
            assert {"401", "403", "500", "503"} <= set(operation["responses"]), (method, path)
            if method == "post":
                assert {"400", "413", "415", "422"} <= set(operation["responses"]), path


def test_the_create_body_is_every_kind_without_what_the_gateway_fills_in() -> None:
    document: dict[str, Any] = openapi_document()
    schemas = document["components"]["schemas"]
    body = document["paths"]["/v1/interactions"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("/NewRequest")
    mapping = schemas["NewRequest"]["discriminator"]["mapping"]
    assert sorted(mapping) == sorted(KIND_NAMES)
    for ref in mapping.values():
        member = schemas[ref.rsplit("/", 1)[-1]]
        assert not {"id", "reply_to", "requester"} & set(member["required"])
        assert {"thread_id", "prompt", "kind"} <= set(member["required"])
