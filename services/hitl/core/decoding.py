"""Bytes off the wire into contract models, with errors that say what was wrong and where.

Pure: no I/O. pydantic's errors are translated into one ``ErrorDetail`` whose code tells the
sender which of the classic mistakes it made (bad JSON, version, kind, field, size).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

import orjson
from pydantic import JsonValue, TypeAdapter, ValidationError

from hitl.errors import InvalidMessage
from hitl_contract import (
    KIND_NAMES,
    READ_SCHEMA_VERSIONS,
    ErrorCode,
    ErrorDetail,
    HumanResponse,
    InteractionClaim,
    InteractionRequest,
)

T = TypeVar("T")

REQUEST_ADAPTER: TypeAdapter[InteractionRequest] = TypeAdapter(InteractionRequest)
RESPONSE_ADAPTER: TypeAdapter[HumanResponse] = TypeAdapter(HumanResponse)
CLAIM_ADAPTER: TypeAdapter[InteractionClaim] = TypeAdapter(InteractionClaim)
_MAX_ECHO = 200
# Error types whose ``input`` is not what was sent at the error's place: for a missing field,
# pydantic gives the enclosing object; for bad JSON, the whole body.
_NOTHING_SENT = frozenset({"missing", "json_invalid"})


def decode_request(body: bytes, max_bytes: int) -> InteractionRequest:
    return _decode(REQUEST_ADAPTER, body, max_bytes)


def decode_response(body: bytes, max_bytes: int) -> HumanResponse:
    return _decode(RESPONSE_ADAPTER, body, max_bytes)


def decode_claim(body: bytes, max_bytes: int) -> InteractionClaim:
    return _decode(CLAIM_ADAPTER, body, max_bytes)


@dataclass(frozen=True, slots=True)
class Readable:
    """What a refused message still says about itself, for its ``rejected`` event."""

    interaction_id: UUID | None = None
    thread_id: str | None = None
    kind: str | None = None


def readable(body: bytes, id_field: str) -> Readable:
    """Best effort: the interaction id (from ``id_field``), thread and kind of a message that
    failed validation, each only if it is well formed; never raises."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return Readable()
    if not isinstance(data, dict):
        return Readable()
    try:
        interaction_id = UUID(str(data.get(id_field)))
    except ValueError:
        interaction_id = None
    thread = data.get("thread_id")
    kind = data.get("kind")
    return Readable(
        interaction_id,
        thread if isinstance(thread, str) and 0 < len(thread) <= 256 else None,
        kind if kind in KIND_NAMES else None,
    )


def _decode(adapter: TypeAdapter[T], body: bytes, max_bytes: int) -> T:
    if len(body) > max_bytes:
        raise InvalidMessage(
            ErrorDetail(
                code=ErrorCode.PAYLOAD_TOO_LARGE,
                message=f"message is {len(body)} bytes; the limit is {max_bytes}",
                got=len(body),
            )
        )
    try:
        return adapter.validate_json(body)
    except ValidationError as exc:
        raise InvalidMessage(describe_validation_error(exc)) from exc


def describe_validation_error(exc: ValidationError) -> ErrorDetail:
    """The first error in full, plus how many more there were; the code names its class."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    ctx = first.get("ctx") or {}
    path = format_path(_strip_union_tag(first["loc"]))
    got = _echo(first.get("input")) if first["type"] not in _NOTHING_SENT else None
    if first["type"] in ("union_tag_invalid", "union_tag_not_found"):
        # pydantic reports these at the root; the discriminator is the field at fault.
        path = ctx.get("discriminator", "'kind'").strip("'")
        got = _echo(ctx.get("tag"))
    if "at" in ctx:  # a contract validator named the place inside the model (``refuse``)
        path = _join(path, ctx["at"])
        got = _echo(ctx.get("got"))
    code, allowed = _classify(first, path)
    if ctx.get("allowed") is not None:
        allowed = list(ctx["allowed"])
    more = f" (and {len(errors) - 1} more: {_summary(errors[1:])})" if len(errors) > 1 else ""
    return ErrorDetail(
        code=code,
        message=f"{first['msg']}{more}",
        path=path or None,
        allowed=allowed,
        got=got,
    )


def _classify(error: Any, path: str) -> tuple[ErrorCode, list[Any] | None]:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "json_invalid":
        return ErrorCode.MALFORMED_JSON, None
    if kind == "union_tag_invalid":
        return ErrorCode.UNKNOWN_KIND, list(KIND_NAMES)
    if kind == "union_tag_not_found":
        return ErrorCode.INVALID_FIELD, list(KIND_NAMES)
    if path == "schema_version":
        return ErrorCode.UNSUPPORTED_SCHEMA_VERSION, list(READ_SCHEMA_VERSIONS)
    if kind in ("literal_error", "enum") and "expected" in ctx:
        return ErrorCode.INVALID_FIELD, [ctx["expected"]]
    return ErrorCode.INVALID_FIELD, None


def _strip_union_tag(loc: Sequence[int | str]) -> Sequence[int | str]:
    # pydantic puts the discriminator's value first for union members: ('approval', 'prompt').
    return loc[1:] if loc and loc[0] in KIND_NAMES else loc


def format_path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _summary(errors: Sequence[Any]) -> str:
    parts = [f"{format_path(_strip_union_tag(e['loc'])) or '<root>'}: {e['msg']}" for e in errors]
    return "; ".join(parts[:5]) + ("; ..." if len(parts) > 5 else "")


def _join(path: str, inner: str) -> str:
    return inner if not path else f"{path}{inner}" if inner.startswith("[") else f"{path}.{inner}"


def _echo(value: Any) -> JsonValue:
    """What was sent at the error's place, as JSON: the value itself, or, when it is long, a
    string: the start of its JSON text followed by '...'."""
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):  # JSON readers (and orjson) stop at 64 bits: say it as text
        return value if -(2**63) <= value < 2**64 else str(value)
    if isinstance(value, str):
        return value if len(value) <= _MAX_ECHO else value[:_MAX_ECHO] + "..."
    try:
        text = orjson.dumps(value).decode()
    except TypeError:  # not JSON (only a caller of validate_python can send such a value)
        text = repr(value)
    else:
        if len(text) <= _MAX_ECHO:
            return value  # type: ignore[no-any-return]
    return text[:_MAX_ECHO] + "..."
