"""Every message the tests receive from hitl, held against what other languages are promised:
the published JSON Schemas (schemas/json, draft 2020-12, formats checked) and the AMQP
properties and dead-letter headers docs/contract.md describes.

The Node conformance client (tests/docs/test_conformance_js.py) makes the same checks from
outside Python; together, a drift between the wire and the docs fails both. The fixtures and
helpers that receive messages (``capture``, ``dead_letters``, the behaviour harnesses) call
``check``; a violation is recorded and fails the test at its end (an AMQP callback cannot).
"""

import functools
import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol

from jsonschema import Draft202012Validator

from hitl.ports import Envelope
from hitl_contract import ErrorCode
from hitl_contract.wire import (
    CONTENT_TYPE,
    DEAD_LETTER_HEADERS,
    DEAD_LETTER_SOURCES,
    EVENT_TYPE,
    NOTIFICATION_TYPE,
    OUTCOME_TYPE,
    PERSISTENT,
    RECEIPT_TYPE,
    REQUEST_TYPE,
    RESPONSE_TYPE,
)

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas" / "json"
BODY_SCHEMAS = {
    REQUEST_TYPE: "interaction-request",  # what the SDK sends
    RESPONSE_TYPE: "human-response",  # what the SDK's Responder (and bots) send
    NOTIFICATION_TYPE: "notification",
    OUTCOME_TYPE: "interaction-outcome",
    RECEIPT_TYPE: "response-receipt",
    EVENT_TYPE: "lifecycle-events",
}
MESSAGE_ID_PREFIXES = {
    REQUEST_TYPE: "",  # the request's own id (checked below)
    RESPONSE_TYPE: "",  # the answer's response_id (checked below)
    NOTIFICATION_TYPE: "notification:",
    OUTCOME_TYPE: "outcome:",
    RECEIPT_TYPE: "receipt:",
    EVENT_TYPE: "events:",
}
violations: list[str] = []
# Messages recorded during a test, checked at its end: validation takes CPU, and the tests'
# brokers share the event loop with the callbacks that receive messages.
_pending: list[tuple["Received", str, bool]] = []


class Received(Protocol):
    """What an aio-pika ``IncomingMessage`` offers (and a recorded ``Envelope`` adapts to)."""

    body: bytes
    type: str | None
    message_id: str | None
    headers: Mapping[str, Any]


@functools.cache
def validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def check(message: Received, *, where: str, amqp: bool = True) -> None:
    """Keep ``message`` to be held against the contract when the test ends (``take``).
    ``amqp``: the AMQP properties a broker sets are there to check (not for a message the
    in-memory sink recorded)."""
    _pending.append((message, where, amqp))


def _check_now(message: Received, where: str, amqp: bool) -> None:
    if message.headers and "x-hitl-error-code" in message.headers:
        _dead_letter(message.headers, where)
        return
    if message.type not in BODY_SCHEMAS:
        return  # a request or answer a test published itself, or a message of a test's own
    name = BODY_SCHEMAS[message.type]
    try:
        body = json.loads(message.body)
    except ValueError as exc:
        violations.append(f"{where}: a {message.type} that is not JSON: {exc}")
        return
    for error in validator(name).iter_errors(body):
        at = "/".join(str(p) for p in error.absolute_path) or "<root>"
        violations.append(
            f"{where}: {message.type} fails {name}.schema.json at {at}: {error.message}"
        )
    prefix = MESSAGE_ID_PREFIXES[message.type]
    if not (message.message_id or "").startswith(prefix):
        violations.append(
            f"{where}: {message.type} message_id {message.message_id!r} not {prefix}..."
        )
    if amqp:
        _properties(message, where)


def check_envelope(envelope: Envelope, *, where: str) -> None:
    """A message the in-memory sink recorded instead of sending (no AMQP properties yet)."""
    check(
        SimpleNamespace(
            body=envelope.body,
            type=envelope.message_type,
            message_id=envelope.message_id,
            headers=envelope.headers,
        ),
        where=where,
        amqp=False,
    )


def _properties(message: Received, where: str) -> None:
    content_type = getattr(message, "content_type", None)
    delivery_mode = getattr(message, "delivery_mode", None)
    if content_type != CONTENT_TYPE:
        violations.append(f"{where}: content_type {content_type!r}, not {CONTENT_TYPE}")
    if int(delivery_mode or 0) != PERSISTENT:
        violations.append(f"{where}: delivery_mode {delivery_mode!r}, not {PERSISTENT}")


def _dead_letter(headers: Mapping[str, Any], where: str) -> None:
    for name, always, _ in DEAD_LETTER_HEADERS:
        if always and name not in headers:
            violations.append(f"{where}: dead letter without {name}")
    text = {k: v.decode() if isinstance(v, bytes) else v for k, v in headers.items()}
    if text.get("x-hitl-error-code") not in {code.value for code in ErrorCode}:
        violations.append(f"{where}: x-hitl-error-code {text.get('x-hitl-error-code')!r}")
    if text.get("x-hitl-source") not in DEAD_LETTER_SOURCES:
        violations.append(f"{where}: x-hitl-source {text.get('x-hitl-source')!r}")
    if not isinstance(text.get("x-hitl-error-path"), str):
        violations.append(f"{where}: x-hitl-error-path is not a string")
    for name in ("x-hitl-error-allowed", "x-hitl-error-got"):
        try:
            value = json.loads(text.get(name, ""))
        except (ValueError, TypeError):
            violations.append(f"{where}: {name} is not JSON text: {text.get(name)!r}")
            continue
        if name == "x-hitl-error-allowed" and not (value is None or isinstance(value, list)):
            violations.append(f"{where}: {name} is neither null nor an array: {value!r}")
    try:
        datetime.fromisoformat(str(text.get("x-hitl-rejected-at")))
    except ValueError:
        violations.append(f"{where}: x-hitl-rejected-at {text.get('x-hitl-rejected-at')!r}")


def take() -> list[str]:
    """Every way the messages recorded so far differ from the contract; both lists cleared."""
    while _pending:
        _check_now(*_pending.pop(0))
    found = violations[:]
    violations.clear()
    return found
