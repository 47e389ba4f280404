"""Answer rules of forms: typed fields, required flags and limits, every field error at once."""

from datetime import date, datetime
from typing import Any

from pydantic import JsonValue

from hitl.core.rules.checks import anything, detail, is_int, mapping, only
from hitl.errors import InvalidResponse
from hitl_contract import ErrorCode, ErrorDetail, FormField, FormRequest, HumanResponse, JsonObject


def form(request: Any, response: HumanResponse, at: datetime) -> JsonObject:
    assert isinstance(request, FormRequest)
    given = mapping(
        "data.answers", only(response.data, {"answers": anything}, required=["answers"])["answers"]
    )
    fields = {f.name: f for f in request.fields}
    errors = [
        detail(f"data.answers.{name}", "no field has this name", sorted(fields), value)
        for name, value in given.items()
        if name not in fields
    ]
    answers: dict[str, JsonValue] = {}
    for field in request.fields:
        value = given.get(field.name, field.default)
        if value is None:
            if field.required:
                errors.append(
                    detail(f"data.answers.{field.name}", "this field is required", None, None)
                )
            continue
        problem = _problem(field, value)
        if problem:
            errors.append(detail(f"data.answers.{field.name}", problem, field.options, value))
        else:
            answers[field.name] = value
    if errors:
        first = errors[0]
        raise InvalidResponse(
            ErrorDetail(
                code=ErrorCode.INVALID_RESPONSE,
                path=first.path,
                allowed=first.allowed,
                got=first.got,
                details=errors,
                message=first.message
                if len(errors) == 1
                else f"{len(errors)} fields are invalid; first: {first.message}",
            )
        )
    return {"answers": answers}


def _problem(field: FormField, value: JsonValue) -> str | None:
    """What is wrong with ``value`` for ``field``, or None."""
    kind = field.type
    if kind in ("string", "text", "date", "enum") and not isinstance(value, str):
        return f"must be a string ({kind})"
    if kind == "boolean":
        return None if isinstance(value, bool) else "must be true or false"
    if kind == "integer" and not is_int(value):
        return "must be a whole number"
    if kind == "number" and not (is_int(value) or isinstance(value, float)):
        return "must be a number"
    if kind == "enum":
        return None if value in (field.options or []) else "must be one of the options"
    if kind == "date":
        try:
            date.fromisoformat(str(value))
        except ValueError:
            return "must be a date, YYYY-MM-DD"
        return None
    if isinstance(value, str):
        return _length_problem(field, value)
    return _range_problem(field, float(value))  # type: ignore[arg-type]


def _length_problem(field: FormField, value: str) -> str | None:
    if field.min_length is not None and len(value) < field.min_length:
        return f"must be at least {field.min_length} characters"
    if field.max_length is not None and len(value) > field.max_length:
        return f"must be at most {field.max_length} characters"
    return None


def _range_problem(field: FormField, value: float) -> str | None:
    if field.minimum is not None and value < field.minimum:
        return f"must be at least {field.minimum}"
    if field.maximum is not None and value > field.maximum:
        return f"must be at most {field.maximum}"
    return None
