"""Every worked example in docs/kinds.md runs against the real broker: the request is asked,
each answer gets the receipt the doc promises, and the outcome contains what the doc shows."""

import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from hitl.broker.service import BrokerService
from hitl.sdk import HitlClient, Responder
from hitl_contract import HumanResponse, Identity
from tests.helpers import eventually

DOC = Path(__file__).resolve().parents[2] / "docs" / "kinds.md"


def examples() -> list[Any]:
    """(section, request, answers, outcome) for each request block, in document order."""
    found: list[Any] = []
    section = ""
    current: dict[str, Any] = {}
    pattern = r"^## ([^\n]+)$|^```json (request|answers|outcome)\n(.*?)^```$"
    for match in re.finditer(pattern, DOC.read_text(), flags=re.M | re.S):
        if match.group(1):
            section = match.group(1)
            continue
        current[match.group(2)] = orjson.loads(match.group(3))
        if match.group(2) == "outcome":
            found.append(
                pytest.param(
                    current["request"],
                    current["answers"],
                    current["outcome"],
                    id=f"{section}-{len(found)}",
                )
            )
            current = {}
    return found


def contains(actual: Any, expected: Any, where: str = "outcome") -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: {actual!r} is not an object"
        for key, value in expected.items():
            assert key in actual, f"{where}.{key} is missing from {actual!r}"
            contains(actual[key], value, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{where}: {actual!r}"
        for n, (a, e) in enumerate(zip(actual, expected, strict=True)):
            contains(a, e, f"{where}[{n}]")
    else:
        assert actual == expected, f"{where}: expected {expected!r}, got {actual!r}"


def test_the_document_has_an_example_for_every_kind() -> None:
    from hitl_contract import KIND_NAMES

    kinds = {param.values[0]["kind"] for param in examples()}
    assert kinds == set(KIND_NAMES)


@pytest.mark.parametrize(("fields", "answers", "outcome"), examples())
async def test_kind_example(
    fields: dict[str, Any],
    answers: list[dict[str, Any]],
    outcome: dict[str, Any],
    broker: BrokerService,
    client: HitlClient,
    responder: Responder,
) -> None:
    fields = dict(fields)
    request = client.new_request(
        fields.pop("kind"), thread_id="docs", prompt=fields.pop("prompt"), **fields
    )
    await client.submit(request)
    store = broker.store
    assert store is not None
    await eventually(lambda: store.load(request.id))
    for n, step in enumerate(answers):
        receipt = await responder.respond(
            HumanResponse(
                interaction_id=request.id,
                action=step["action"],
                data=step.get("data", {}),
                responder=Identity(id=step.get("as", "alice"), groups=step.get("groups", [])),
                channel="docs",
            )
        )
        assert receipt is not None
        got = receipt.model_dump(mode="json")
        contains(got, {"result": step.get("result", "accepted")}, f"answers[{n}] receipt")
        if "error" in step:
            contains(got["error"], step["error"], f"answers[{n}].error")
    result = await client.wait(request.id, timeout=10)
    contains(result.model_dump(mode="json"), outcome)
