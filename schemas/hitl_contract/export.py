"""JSON Schema (draft 2020-12) for every message on the wire, built from the models.

Pure: no I/O and no service imports. ``hitl schemas export`` writes these schemas under
``schemas/json/`` and embeds them in ``schemas/asyncapi.yaml``; a test fails when the files
there differ from what the models produce now.

Messages a producer or a responder *sends* are described as pydantic validates them (defaults
may be omitted); messages hitl *sends* as pydantic serializes them (what is really on the wire).
"""

import json
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from hitl_contract.claims import InteractionClaim
from hitl_contract.events import LifecycleEvents, Notification
from hitl_contract.kinds import KIND_NAMES, InteractionRequest
from hitl_contract.outcome import InteractionOutcome
from hitl_contract.response import HumanResponse, ResponseReceipt
from hitl_contract.version import SCHEMA_VERSION

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID_PREFIX = f"urn:hitl:contract:v{SCHEMA_VERSION}:"

JsonSchema = dict[str, Any]


@dataclass(frozen=True, slots=True)
class WireMessage:
    """One message type on the wire and how to describe it."""

    name: str  # file stem and $id suffix, e.g. "interaction-request"
    title: str  # schema title and component name, e.g. "InteractionRequest"
    adapter: TypeAdapter[Any]
    mode: JsonSchemaMode  # "validation" for what hitl receives, "serialization" for what it sends
    summary: str

    @property
    def schema_id(self) -> str:
        return f"{SCHEMA_ID_PREFIX}{self.name}"

    @property
    def file_name(self) -> str:
        return f"{self.name}.schema.json"


WIRE_MESSAGES: tuple[WireMessage, ...] = (
    WireMessage(
        "interaction-request",
        "InteractionRequest",
        TypeAdapter(InteractionRequest),
        "validation",
        f"A question for a person; `kind` ({', '.join(KIND_NAMES)}) selects the shape.",
    ),
    WireMessage(
        "human-response",
        "HumanResponse",
        TypeAdapter(HumanResponse),
        "validation",
        "An answer to one interaction, from a person, a notifier bot or the requester.",
    ),
    WireMessage(
        "interaction-claim",
        "InteractionClaim",
        TypeAdapter(InteractionClaim),
        "validation",
        "Claim, renew or release a pending interaction; while claimed, only the holder (or "
        "the holding team) may answer.",
    ),
    WireMessage(
        "response-receipt",
        "ResponseReceipt",
        TypeAdapter(ResponseReceipt),
        "serialization",
        "What became of a response; sent to the response's AMQP reply_to when it has one.",
    ),
    WireMessage(
        "interaction-outcome",
        "InteractionOutcome",
        TypeAdapter(InteractionOutcome),
        "serialization",
        "The single outcome of an interaction, published to the request's reply_to.",
    ),
    WireMessage(
        "notification",
        "Notification",
        TypeAdapter(Notification),
        "serialization",
        "Show this request to people on `route`; answer it with a HumanResponse.",
    ),
    WireMessage(
        "lifecycle-events",
        "LifecycleEvents",
        TypeAdapter(LifecycleEvents),
        "serialization",
        "Lifecycle events gathered together, one message per routing key `<event>.<kind>`.",
    ),
)


def message_json_schema(message: WireMessage) -> JsonSchema:
    """A standalone draft 2020-12 schema for one message, its sub-models under ``$defs``."""
    schema = message.adapter.json_schema(mode=message.mode)
    schema.pop("title", None)
    schema.setdefault("description", message.summary)
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": message.schema_id,
        "title": message.title,
        **schema,
    }


def json_schemas() -> dict[str, JsonSchema]:
    """File name (``<name>.schema.json``) -> schema, for every wire message."""
    return {m.file_name: message_json_schema(m) for m in WIRE_MESSAGES}


def component_schemas(ref_template: str) -> tuple[dict[str, JsonSchema], dict[str, JsonSchema]]:
    """All messages' schemas in one flat namespace, for an AsyncAPI or OpenAPI ``components``.

    Returns (message title -> payload schema, a ``$ref`` into the map; component name ->
    schema). ``ref_template`` is e.g. ``"#/components/schemas/{model}"``.
    """
    keyed, defs_holder = TypeAdapter.json_schemas(
        [(m.title, m.mode, m.adapter) for m in WIRE_MESSAGES], ref_template=ref_template
    )
    components: dict[str, JsonSchema] = dict(defs_holder.get("$defs", {}))
    payloads: dict[str, JsonSchema] = {}
    for (title, _mode), schema in keyed.items():
        if set(schema) != {"$ref"}:  # an inline schema (the request union): name it
            if title in components:
                raise ValueError(f"component name {title!r} is used twice")
            components[title] = {"title": title, **schema}
            schema = {"$ref": ref_template.format(model=title)}
        payloads[title] = schema
    return payloads, components


def dumps_json(schema: JsonSchema) -> str:
    """Stable text for a schema file: sorted keys, two-space indent, trailing newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
