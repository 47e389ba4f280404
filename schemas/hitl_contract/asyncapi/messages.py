"""Messages: each payload with its AMQP properties and an example; dead letters with headers."""

from typing import Any

from pydantic import BaseModel

from hitl_contract.asyncapi.examples import examples
from hitl_contract.asyncapi.shared import AMQP_BINDING, SCHEMA_REF
from hitl_contract.common import ErrorCode
from hitl_contract.export import WIRE_MESSAGES
from hitl_contract.wire import (
    CLAIM_TYPE,
    CONTENT_TYPE,
    DEAD_LETTER_HEADERS,
    EVENT_TYPE,
    NOTIFICATION_TYPE,
    OUTCOME_TYPE,
    PERSISTENT,
    RECEIPT_TYPE,
    REQUEST_TYPE,
    RESPONSE_TYPE,
    Names,
    outcome_message_id,
)


def messages(names: Names, payloads: dict[str, dict[str, Any]]) -> dict[str, Any]:
    ex = examples()
    return {
        "interactionRequest": _message(
            "InteractionRequest",
            payloads["InteractionRequest"],
            _amqp_properties(
                REQUEST_TYPE,
                "<id> (recommended)",
                "<id> (recommended)",
                "unused: the outcome goes to the outcomes exchange, routing key = payload reply_to",
            ),
            "$message.payload#/id",
            ex["request"],
        ),
        "humanResponse": _message(
            "HumanResponse",
            payloads["HumanResponse"],
            _amqp_properties(
                RESPONSE_TYPE,
                "<response_id> (recommended)",
                "yours; echoed on the receipt (default: response_id)",
                "optional: a queue for the ResponseReceipt",
            ),
            "$message.payload#/response_id",
            ex["response"],
        ),
        "interactionClaim": _message(
            "InteractionClaim",
            payloads["InteractionClaim"],
            _amqp_properties(
                CLAIM_TYPE,
                "<claim_id> (recommended)",
                "yours; echoed on the receipt (default: claim_id)",
                "optional: a queue for the ResponseReceipt",
            ),
            "$message.payload#/claim_id",
            ex["claim"],
        ),
        "responseReceipt": _message(
            "ResponseReceipt",
            payloads["ResponseReceipt"],
            _amqp_properties(
                RECEIPT_TYPE,
                "receipt:<response_id>:<result>",
                "the response's correlation_id, else its response_id",
                "none",
            ),
            "$message.header#/correlation_id",
            ex["receipt"],
        ),
        "interactionOutcome": _message(
            "InteractionOutcome",
            payloads["InteractionOutcome"],
            _amqp_properties(
                OUTCOME_TYPE,
                f"{outcome_message_id('<interaction_id>')} (stable: dedupe on it)",
                "<interaction_id>",
                "none",
            ),
            "$message.payload#/interaction_id",
            ex["outcome"],
        ),
        "notification": _message(
            "Notification",
            payloads["Notification"],
            _amqp_properties(
                NOTIFICATION_TYPE,
                "notification:<interaction_id>:<reason>:<attempt>[:<receiver>]",
                "<interaction_id>",
                "none",
            ),
            "$message.payload#/interaction_id",
            ex["notification"],
        ),
        "lifecycleEvents": _message(
            "LifecycleEvents",
            payloads["LifecycleEvents"],
            _amqp_properties(
                EVENT_TYPE,
                "events:<digest of the event ids it carries>",
                "absent (a batch spans interactions)",
                "none",
            ),
            "$message.payload#/events/0/interaction_id",
            ex["events"],
        ),
        "deadLetter": {
            "name": "DeadLetter",
            "title": "DeadLetter",
            "summary": "A refused message, unchanged, with headers saying why.",
            "description": (
                f"Published to `{names.dead_letter}` with routing key = source. "
                "Body, type, message_id and correlation_id are the original's "
                "(type 'unknown' and message_id 'dead:<time_ns>' when it had none)."
            ),
            "payload": {"description": "The original message body, byte for byte."},
            "headers": {"$ref": SCHEMA_REF.format(model="DeadLetterHeaders")},
            "examples": [
                {
                    "name": "MalformedRequest",
                    "headers": _dead_letter_example(names),
                    "payload": {"kind": "approval"},
                }
            ],
        },
    }


def dead_letter_headers_schema() -> dict[str, Any]:
    return {
        "title": "DeadLetterHeaders",
        "type": "object",
        "properties": {
            name: (
                {"type": "string", "description": meaning, "enum": [c.value for c in ErrorCode]}
                if name == "x-hitl-error-code"
                else {"type": "string", "description": meaning}
            )
            for name, _always, meaning in DEAD_LETTER_HEADERS
        },
        "required": [name for name, always, _meaning in DEAD_LETTER_HEADERS if always],
    }


def _amqp_properties(
    message_type: str, message_id: str, correlation_id: str, reply_to: str
) -> dict[str, Any]:
    return {
        "content_type": CONTENT_TYPE,
        "delivery_mode": PERSISTENT,
        "type": message_type,
        "message_id": message_id,
        "correlation_id": correlation_id,
        "reply_to": reply_to,
    }


def _message(
    title: str, payload: dict[str, Any], amqp: dict[str, Any], correlation: str, example: BaseModel
) -> dict[str, Any]:
    wire = next(m for m in WIRE_MESSAGES if m.title == title)
    return {
        "name": title,
        "title": title,
        "summary": wire.summary,
        "contentType": CONTENT_TYPE,
        "payload": payload,
        "correlationId": {"location": correlation},
        "bindings": {"amqp": {"messageType": amqp["type"], "bindingVersion": AMQP_BINDING}},
        "examples": [{"name": title, "payload": example.model_dump(mode="json")}],
        "x-amqp-properties": amqp,
        "x-json-schema": f"json/{wire.file_name}",
    }


def _dead_letter_example(names: Names) -> dict[str, str]:
    return {
        "x-hitl-error-code": ErrorCode.INVALID_FIELD.value,
        "x-hitl-error-message": "Field required (and 4 more: ...)",
        "x-hitl-error-path": "id",
        "x-hitl-error-allowed": "null",
        "x-hitl-error-got": "null",
        "x-hitl-source": "requests",
        "x-original-exchange": names.requests,
        "x-original-routing-key": "approval",
        "x-hitl-rejected-at": "2025-01-15T09:30:00.120000+00:00",
    }
