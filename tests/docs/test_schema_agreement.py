"""The JSON Schemas say what the broker accepts, no more and no less.

Every request and answer in docs/kinds.md and every example in docs/contract.md passes both its
schema (schemas/json) and the broker's decoding; every bad example kept here fails both. Each
good request is then mutated field by field (removed, null, of another type) and the schema's
verdict must be the broker's on every mutant. The only differences allowed are the rules
JSON Schema cannot state, which docs/contract.md lists ("Rules beyond the schemas"): there the
schema accepts and the broker refuses, and each such rule has an example here.
"""

import copy
import json
import re
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from hitl.core.decoding import decode_request, decode_response
from hitl.errors import InvalidMessage
from hitl_contract.export import WIRE_MESSAGES
from tests.docs.test_kinds_doc import examples as kinds_examples
from tests.wire_check import validator

ROOT = Path(__file__).resolve().parents[2]
CONTRACT_MD = ROOT / "docs" / "contract.md"
LIMIT = 10 * 1024 * 1024
Json = dict[str, Any]


def request(**fields: Any) -> Json:
    """A request as a producer sends it: the doc's fields plus what every request carries."""
    return {
        "schema_version": 1,
        "id": str(uuid.uuid4()),
        "thread_id": "agreement",
        "reply_to": "producer",
        "requester": {"id": "agent"},
        **fields,
    }


def answer(**fields: Any) -> Json:
    return {
        "schema_version": 1,
        "interaction_id": str(uuid.uuid4()),
        "responder": {"id": "ana"},
        **fields,
    }


def broker_refusal(kind: str, body: Json) -> str | None:
    """Why the broker refuses ``body`` (its error message), or None if it takes it."""
    decode = decode_request if kind == "request" else decode_response
    try:
        decode(orjson.dumps(body), LIMIT)
    except InvalidMessage as exc:
        return exc.detail.message
    return None


def broker_accepts(kind: str, body: Json) -> bool:
    return broker_refusal(kind, body) is None


def schema_accepts(kind: str, body: Json) -> bool:
    name = "interaction-request" if kind == "request" else "human-response"
    return validator(name).is_valid(body)


def good_examples() -> list[Any]:
    found = []
    for param in kinds_examples():
        fields, answers, _ = param.values
        found.append(pytest.param("request", request(**fields), id=f"{param.id}-request"))
        for n, a in enumerate(answers):
            body = answer(action=a["action"], data=a.get("data", {}))
            found.append(pytest.param("response", body, id=f"{param.id}-answer{n}"))
    return found


# (kind, body): refused by the broker, and by the schema, which can tell.
BAD = {
    "no prompt": ("request", request(kind="approval")),
    "no options": ("request", request(kind="choice", prompt="Pick")),
    "no summary": ("request", request(kind="confirmation", prompt="Ok?")),
    "no fields": ("request", request(kind="form", prompt="Fill")),
    "unknown kind": ("request", request(kind="poll", prompt="?")),
    "no kind": ("request", request(prompt="?")),
    "schema version 2": ("request", request(kind="approval", prompt="?", schema_version=2)),
    "unknown field": ("request", request(kind="approval", prompt="?", colour="red")),
    "empty prompt": ("request", request(kind="approval", prompt="")),
    "not a uuid": ("request", request(kind="approval", prompt="?", id="seven")),
    "timeout 0": ("request", request(kind="approval", prompt="?", timeout_seconds=0)),
    "on_timeout action of another kind": (
        "request",
        request(kind="approval", prompt="?", on_timeout={"action": "choose"}),
    ),
    "auto_approve without a default answer": (
        "request",
        request(kind="choice", prompt="?", options=["a"], auto_approve=True),
    ),
    "quorum without responders": (
        "request",
        request(kind="approval", prompt="?", decision={"policy": "quorum", "quorum": 1}),
    ),
    "all_of with a group": (
        "request",
        request(
            kind="approval", prompt="?", responders=["group:sre"], decision={"policy": "all_of"}
        ),
    ),
    "quorum policy without M": (
        "request",
        request(kind="approval", prompt="?", responders=["a"], decision={"policy": "quorum"}),
    ),
    "M without quorum policy": (
        "request",
        request(kind="approval", prompt="?", responders=["a"], decision={"quorum": 1}),
    ),
    "an option twice": ("request", request(kind="choice", prompt="?", options=["a", "b", "a"])),
    "two selections without multiple": (
        "request",
        request(kind="choice", prompt="?", options=["a", "b"], max_selections=2),
    ),
    "an enum field without options": (
        "request",
        request(kind="form", prompt="?", fields=[{"name": "size", "type": "enum"}]),
    ),
    "options on a string field": (
        "request",
        request(kind="form", prompt="?", fields=[{"name": "size", "options": ["S"]}]),
    ),
    "an item action twice": (
        "request",
        request(
            kind="batch", prompt="?", items=[{"id": "1", "title": "t"}], item_actions=["ok", "ok"]
        ),
    ),
    "empty questions": ("request", request(kind="clarify", prompt="?", questions=[])),
    "a questions string over 64 KiB": (
        "request",
        request(kind="clarify", prompt="?", questions="1. Why?\n" * 9000),
    ),
    "answer without action": ("response", answer()),
    "answer with an unknown field": ("response", answer(action="approve", mood="great")),
    "answer of schema version 9": ("response", answer(action="approve", schema_version=9)),
    "answer without responder": (
        "response",
        {"schema_version": 1, "interaction_id": str(uuid.uuid4()), "action": "approve"},
    ),
}

# (kind, body, rule): the broker refuses, the schema cannot say so; each rule is in docs/contract.md.
BEYOND_SCHEMA = {
    "quorum above the number of responders": (
        "request",
        request(
            kind="approval",
            prompt="?",
            responders=["a"],
            decision={"policy": "quorum", "quorum": 2},
        ),
        "a quorum no larger than the named responders",
    ),
    "max_selections below min_selections": (
        "request",
        request(
            kind="choice",
            prompt="?",
            options=["a", "b", "c"],
            multiple=True,
            min_selections=2,
            max_selections=1,
        ),
        "max_selections at least min_selections",
    ),
    "a form field name twice": (
        "request",
        request(kind="form", prompt="?", fields=[{"name": "a"}, {"name": "a"}]),
        "unique names of form and text fields, question keys and batch item ids",
    ),
    "a batch item id twice": (
        "request",
        request(
            kind="batch", prompt="?", items=[{"id": "1", "title": "t"}, {"id": "1", "title": "u"}]
        ),
        "unique names of form and text fields, question keys and batch item ids",
    ),
    "reply_to over 255 bytes in UTF-8": (
        "request",
        request(kind="approval", prompt="?", reply_to="é" * 200),
        "reply_to at most 255 bytes",
    ),
    "a questions string without a numbered list": (
        "request",
        request(kind="clarify", prompt="?", questions="   "),
        "a questions string that is a markdown list",
    ),
}


@pytest.mark.parametrize(("kind", "body"), good_examples())
def test_a_documented_example_passes_schema_and_broker(kind: str, body: Json) -> None:
    assert schema_accepts(kind, body), list(validator_errors(kind, body))
    assert broker_accepts(kind, body)


def test_every_contract_md_example_passes_its_schema() -> None:
    text = CONTRACT_MD.read_text(encoding="utf-8")
    blocks = re.findall(r"<!-- contract: (\w+) -->\n```json\n(.*?)```", text, flags=re.DOTALL)
    names = {wire.title: wire.name for wire in WIRE_MESSAGES}
    assert blocks
    for title, body in blocks:
        errors = [e.message for e in validator(names[title]).iter_errors(json.loads(body))]
        assert errors == [], f"docs/contract.md's {title} example: {errors}"


@pytest.mark.parametrize(("kind", "body"), list(BAD.values()), ids=list(BAD))
def test_a_bad_message_fails_schema_and_broker(kind: str, body: Json) -> None:
    assert not broker_accepts(kind, body)
    assert not schema_accepts(kind, body)


@pytest.mark.parametrize(
    ("kind", "body", "rule"), list(BEYOND_SCHEMA.values()), ids=list(BEYOND_SCHEMA)
)
def test_a_rule_beyond_the_schema_is_the_brokers_and_documented(
    kind: str, body: Json, rule: str
) -> None:
    assert not broker_accepts(kind, body)
    assert schema_accepts(kind, body), "the schema states this rule now: move it to BAD"
    assert rule in CONTRACT_MD.read_text(encoding="utf-8")


def mutants(body: Json) -> list[tuple[str, Json]]:
    out = []
    for key in body:
        for label, value in (
            ("removed", ...),
            ("null", None),
            ("a number", 12345),
            ("a string", "x"),
            ("a list", []),
            ("an object", {}),
        ):
            mutant = copy.deepcopy(body)
            if value is ...:
                del mutant[key]
            else:
                mutant[key] = value
            out.append((f"{key} {label}", mutant))
    return out


# How the broker words a refusal under one of the rules beyond the schema (BEYOND_SCHEMA).
BEYOND_SCHEMA_REASONS = (
    "is more than the",
    "is below min_selections",
    "appears twice",
    "255 bytes",
)


@pytest.mark.parametrize(("kind", "body"), good_examples())
def test_schema_and_broker_agree_on_every_mutant(kind: str, body: Json) -> None:
    disagree = []
    for label, mutant in mutants(body):
        schema_ok, refusal = schema_accepts(kind, mutant), broker_refusal(kind, mutant)
        if schema_ok and refusal and any(r in refusal for r in BEYOND_SCHEMA_REASONS):
            continue  # a rule beyond the schema, documented
        if schema_ok != (refusal is None):
            disagree.append(f"{label}: schema says {schema_ok}, broker says {refusal}")
    assert disagree == []


def test_the_beyond_schema_reasons_are_those_of_the_examples() -> None:
    reasons = [broker_refusal(kind, body) or "" for kind, body, _ in BEYOND_SCHEMA.values()]
    for reason in BEYOND_SCHEMA_REASONS:
        assert any(reason in r for r in reasons), reason


def validator_errors(kind: str, body: Json) -> list[str]:
    name = "interaction-request" if kind == "request" else "human-response"
    return [e.message for e in validator(name).iter_errors(body)]
