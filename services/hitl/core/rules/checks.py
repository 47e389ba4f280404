"""Small checks the answer rules share; each failure names the field, what is allowed and
what was sent."""

from collections.abc import Callable, Iterable
from typing import Any

from pydantic import JsonValue

from hitl.errors import InvalidResponse
from hitl_contract import ErrorCode, ErrorDetail, JsonObject

MAX_NOTE = 16_384
MAX_TEXT = 1_048_576
_ECHO = 200

Check = Callable[[str, JsonValue], JsonValue]


def detail(path: str, message: str, allowed: Iterable[Any] | None, got: JsonValue) -> ErrorDetail:
    if isinstance(got, str) and len(got) > _ECHO:
        got = got[:_ECHO] + "..."
    return ErrorDetail(
        code=ErrorCode.INVALID_RESPONSE,
        message=message,
        path=path,
        allowed=list(allowed) if allowed is not None else None,
        got=got,
    )


def invalid(
    path: str, message: str, allowed: Iterable[Any] | None = None, got: JsonValue = None
) -> InvalidResponse:
    return InvalidResponse(detail(path, message, allowed, got))


def only(data: JsonObject, fields: dict[str, Check], required: Iterable[str] = ()) -> JsonObject:
    """Keep the known fields, each checked; name unknown and missing ones instead of guessing."""
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise invalid(f"data.{unknown[0]}", "unexpected field", sorted(fields), data[unknown[0]])
    for name in required:
        if data.get(name) is None:
            raise invalid(f"data.{name}", "this field is required", None, None)
    return {
        name: check(f"data.{name}", data[name]) for name, check in fields.items() if name in data
    }


def text(limit: int = MAX_TEXT, *, min_length: int = 0) -> Check:
    def check(path: str, value: JsonValue) -> JsonValue:
        if not isinstance(value, str):
            raise invalid(path, "must be a string", None, value)
        if not min_length <= len(value) <= limit:
            raise invalid(
                path, f"length {len(value)} is outside {min_length}..{limit}", None, value
            )
        return value

    return check


note = text(MAX_NOTE)


def nullable(check: Check) -> Check:
    return lambda path, value: None if value is None else check(path, value)


def texts(limit: int = 1000, item_limit: int = MAX_NOTE) -> Check:
    item = text(item_limit)

    def check(path: str, value: JsonValue) -> JsonValue:
        if not isinstance(value, list) or len(value) > limit:
            raise invalid(path, f"must be a list of at most {limit} strings", None, value)
        return [item(f"{path}[{n}]", v) for n, v in enumerate(value)]

    return check


def mapping(path: str, value: JsonValue) -> dict[str, JsonValue]:
    if not isinstance(value, dict):
        raise invalid(path, "must be an object", None, value)
    return value


def anything(path: str, value: JsonValue) -> JsonValue:
    return value


def is_int(value: JsonValue) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
