"""The published contract (schemas/json/*.schema.json, schemas/asyncapi.yaml, docs/contract.md)
says what the models and the topology do, and fails the build when it drifts from them."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from hitl.cli.main import main
from hitl.cli.schemas_cmd import differences, published_files
from hitl.settings import Settings
from hitl_contract import KIND_NAMES, ErrorCode
from hitl_contract.asyncapi import asyncapi_document, kind_actions
from hitl_contract.export import JSON_SCHEMA_DIALECT, WIRE_MESSAGES, json_schemas
from hitl_contract.files import ASYNCAPI_FILE, render_files
from hitl_contract.wire import (
    CLAIM_TYPE,
    DEAD_LETTER_HEADERS,
    EVENT_TYPE,
    NOTIFICATION_TYPE,
    OUTCOME_TYPE,
    RECEIPT_TYPE,
    REQUEST_TYPE,
    RESPONSE_TYPE,
    Names,
    queue_arguments,
)

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"
CONTRACT_MD = ROOT / "docs" / "contract.md"
NAMES = Names("hitl")
MESSAGE_TYPES = (
    REQUEST_TYPE,
    RESPONSE_TYPE,
    CLAIM_TYPE,
    OUTCOME_TYPE,
    NOTIFICATION_TYPE,
    EVENT_TYPE,
    RECEIPT_TYPE,
)


# --- drift ----------------------------------------------------------------------------------


def test_committed_schema_files_match_the_models() -> None:
    problems = differences(SCHEMAS, published_files())
    assert not problems, (
        "schemas/ drifted from the models; run `hitl schemas export` and "
        "commit the result:\n" + "\n".join(problems)
    )


def test_export_is_deterministic() -> None:
    assert render_files() == render_files()


def test_cli_check_reports_drift_and_export_repairs_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "schemas"
    assert main(["schemas", "export", "--dir", str(out), "--check"]) == 1
    assert "missing:" in capsys.readouterr().err

    assert main(["schemas", "export", "--dir", str(out)]) == 0
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == sorted(
        published_files()
    )
    assert main(["schemas", "export", "--dir", str(out), "--check"]) == 0

    edited = out / "json" / "interaction-outcome.schema.json"
    edited.write_text(edited.read_text().replace('"resolved"', '"done"'))
    (out / "json" / "old-message.schema.json").write_text("{}")
    capsys.readouterr()
    assert main(["schemas", "export", "--dir", str(out), "--check"]) == 1
    err = capsys.readouterr().err
    assert f"differs: {edited}" in err
    assert "stale:" in err and "old-message.schema.json" in err
    assert "asyncapi.yaml" not in err

    assert main(["schemas", "export", "--dir", str(out)]) == 0
    assert differences(out, published_files()) == [
        f"stale: {out / 'json' / 'old-message.schema.json'}"
    ]


# --- JSON Schema ----------------------------------------------------------------------------


def test_one_schema_per_wire_message() -> None:
    schemas = json_schemas()
    assert set(schemas) == {
        f"{name}.schema.json"
        for name in (
            "interaction-request",
            "human-response",
            "interaction-claim",
            "response-receipt",
            "interaction-outcome",
            "notification",
            "lifecycle-events",
        )
    }
    ids = [schema["$id"] for schema in schemas.values()]
    assert len(set(ids)) == len(ids)
    for name, schema in schemas.items():
        assert schema["$schema"] == JSON_SCHEMA_DIALECT, name
        assert schema["title"], name
        assert schema["description"], name
        assert_refs_resolve(schema, schema, name)


def test_request_schema_lists_every_kind() -> None:
    schema = json_schemas()["interaction-request.schema.json"]
    members = [resolve(schema, option["$ref"]) for option in schema["oneOf"]]
    kinds = [member["properties"]["kind"]["const"] for member in members]
    assert sorted(kinds) == sorted(KIND_NAMES)
    assert sorted(schema["discriminator"]["mapping"]) == sorted(KIND_NAMES)
    for member in members:
        assert member["additionalProperties"] is False
        assert {"id", "thread_id", "prompt", "reply_to", "requester"} <= set(member["required"])
    choice = next(m for m in members if m["properties"]["kind"]["const"] == "choice")
    assert "options" in choice["required"]


def test_error_codes_and_statuses_are_enumerated() -> None:
    receipt = json_schemas()["response-receipt.schema.json"]
    assert receipt["$defs"]["ErrorCode"]["enum"] == [code.value for code in ErrorCode]
    outcome = json_schemas()["interaction-outcome.schema.json"]
    assert outcome["$defs"]["OutcomeStatus"]["enum"] == ["resolved", "cancelled", "timed_out"]


# --- AsyncAPI -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def asyncapi() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((SCHEMAS / ASYNCAPI_FILE).read_text())
    return document


def test_asyncapi_file_is_the_document(asyncapi: dict[str, Any]) -> None:
    assert asyncapi == json.loads(json.dumps(asyncapi_document()))
    assert asyncapi["asyncapi"] == "3.0.0"
    assert_refs_resolve(asyncapi, asyncapi, ASYNCAPI_FILE)


def test_every_exchange_and_queue_is_described(asyncapi: dict[str, Any]) -> None:
    exchanges = {
        c["bindings"]["amqp"]["exchange"]["name"]
        for c in asyncapi["channels"].values()
        if c["bindings"]["amqp"]["is"] == "routingKey"
    }
    queues = {
        c["bindings"]["amqp"]["queue"]["name"]
        for c in asyncapi["channels"].values()
        if c["bindings"]["amqp"]["is"] == "queue"
    }
    assert set(NAMES.exchanges) | {NAMES.dead_letter} <= exchanges
    assert exchanges - set(NAMES.exchanges) == {NAMES.dead_letter, ""}  # "" the default exchange
    assert queues == {
        NAMES.requests_queue,
        NAMES.responses_queue,
        NAMES.dead_letter_queue,
        NAMES.reply_queue("{reply_to}"),
    }


def test_queue_arguments_are_the_topology(asyncapi: dict[str, Any]) -> None:
    defaults = Settings.model_fields
    args = queue_arguments(
        NAMES, defaults["queue_type"].default, defaults["delivery_limit"].default
    )
    channels = asyncapi["channels"]
    for name in ("brokerRequests", "brokerResponses", "replyQueue"):
        assert channels[name]["x-hitl-queue-arguments"] == args, name
    assert channels["replyQueue"]["x-hitl-bindings"] == [
        {"exchange": NAMES.outcomes, "routingKey": "{reply_to}"}
    ]


def test_every_message_has_its_amqp_properties(asyncapi: dict[str, Any]) -> None:
    messages = asyncapi["components"]["messages"]
    wire = {m["x-amqp-properties"]["type"] for m in messages.values() if "x-amqp-properties" in m}
    assert wire == set(MESSAGE_TYPES)
    for name, message in messages.items():
        props = message.get("x-amqp-properties")
        if props is None:
            continue
        assert set(props) == {
            "type",
            "message_id",
            "correlation_id",
            "reply_to",
            "content_type",
            "delivery_mode",
        }, name
        assert props["content_type"] == "application/json"
        assert props["delivery_mode"] == 2
        assert message["bindings"]["amqp"]["messageType"] == props["type"]
        assert (SCHEMAS / message["x-json-schema"]).is_file(), name
    assert messages["interactionOutcome"]["x-amqp-properties"]["message_id"].startswith(
        "outcome:<interaction_id>"
    )
    headers = asyncapi["components"]["schemas"]["DeadLetterHeaders"]
    assert set(headers["properties"]) == {name for name, _always, _meaning in DEAD_LETTER_HEADERS}
    assert headers["properties"]["x-hitl-error-code"]["enum"] == [c.value for c in ErrorCode]


def test_asyncapi_examples_are_valid_messages(asyncapi: dict[str, Any]) -> None:
    messages = asyncapi["components"]["messages"]
    for wire in WIRE_MESSAGES:
        message = next(m for m in messages.values() if m["name"] == wire.title)
        for example in message["examples"]:
            wire.adapter.validate_python(example["payload"])


def test_asyncapi_names_the_namespace_setting(asyncapi: dict[str, Any]) -> None:
    assert asyncapi["x-hitl-namespace"]["setting"] == "HITL_NAMESPACE"
    assert asyncapi["x-hitl-namespace"]["default"] == Settings.model_fields["namespace"].default
    assert "HITL_NAMESPACE" in asyncapi["info"]["description"]


# --- docs/contract.md -----------------------------------------------------------------------


def test_contract_md_json_examples_fit_the_models() -> None:
    text = CONTRACT_MD.read_text(encoding="utf-8")
    blocks = re.findall(r"(<!-- contract: (\w+) -->\n)?```json\n(.*?)```", text, flags=re.DOTALL)
    assert len(blocks) >= 3
    titles = {wire.title: wire for wire in WIRE_MESSAGES}
    for _marker, title, body in blocks:
        assert title in titles, (
            f"a ```json block without <!-- contract: Message --> marker:\n{body}"
        )
        titles[title].adapter.validate_json(body)


def test_contract_md_names_every_exchange_header_code_and_type() -> None:
    text = CONTRACT_MD.read_text(encoding="utf-8")
    expected = [
        *NAMES.exchanges,
        NAMES.dead_letter,
        NAMES.requests_queue,
        NAMES.responses_queue,
        NAMES.dead_letter_queue,
        NAMES.reply_queue("<service>"),
        *MESSAGE_TYPES,
        *(name for name, _always, _meaning in DEAD_LETTER_HEADERS),
        *(code.value for code in ErrorCode),
    ]
    missing = [name for name in expected if f"`{name}`" not in text]
    assert not missing, f"docs/contract.md does not mention {missing}"
    args = queue_arguments(NAMES, "quorum", Settings.model_fields["delivery_limit"].default)
    for key, value in args.items():
        assert re.search(rf"^{re.escape(key)}:\s+{re.escape(str(value))}$", text, re.M), key


def test_contract_md_lists_the_actions_of_every_kind() -> None:
    text = CONTRACT_MD.read_text(encoding="utf-8")
    for kind, actions in kind_actions().items():
        row = re.search(rf"^\| `{kind}` \|.*$", text, flags=re.M)
        assert row is not None, f"no table row for {kind}"
        own = [a for a in actions if a not in ("cancel", "best_judgement")]
        assert all(f"`{action}`" in row.group(0) for action in own), (kind, own)


# --- helpers --------------------------------------------------------------------------------


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def assert_refs_resolve(node: Any, document: dict[str, Any], where: str) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            try:
                resolve(document, ref)
            except (KeyError, TypeError) as exc:
                raise AssertionError(f"{where}: $ref {ref} does not resolve") from exc
        for value in node.values():
            assert_refs_resolve(value, document, where)
    elif isinstance(node, list):
        for value in node:
            assert_refs_resolve(value, document, where)
