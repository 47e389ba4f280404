"""Which answers fit which request: the rules per kind, as pure functions.

``decide`` turns a person's answer into the outcome's status, action and normalised data, or
raises ``InvalidResponse`` naming the field, what is allowed and what was sent.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import JsonValue

from hitl.errors import InvalidResponse
from hitl_contract import (
    ApprovalRequest,
    ChoiceRequest,
    ErrorCode,
    ErrorDetail,
    HumanResponse,
    InteractionRequest,
    JsonObject,
    OutcomeStatus,
    TextInputRequest,
)

_MAX_NOTE = 16_384


@dataclass(frozen=True, slots=True)
class Decision:
    status: OutcomeStatus
    action: str
    data: JsonObject


def decide(request: InteractionRequest, response: HumanResponse) -> Decision:
    allowed = request.allowed_actions()
    if response.action not in allowed:
        raise _invalid(
            "action", f"{request.kind} does not accept this action", allowed, response.action
        )
    if response.action == "cancel":
        data = _only(response.data, {"reason": _note})
        return Decision(OutcomeStatus.CANCELLED, "cancel", data)
    if response.action == "best_judgement":
        return Decision(
            OutcomeStatus.RESOLVED, "best_judgement", _only(response.data, {"note": _note})
        )
    rule = _RULES[request.kind]
    return Decision(OutcomeStatus.RESOLVED, response.action, rule(request, response))


def _approval(request: Any, response: HumanResponse) -> JsonObject:
    assert isinstance(request, ApprovalRequest)
    return _only(response.data, {"reason": _note})


def _choice(request: Any, response: HumanResponse) -> JsonObject:
    assert isinstance(request, ChoiceRequest)
    data = _only(response.data, {"choice": _any, "justification": _note})
    if "choice" not in data:
        raise _invalid(
            "data.choice",
            "choose needs 'choice': an option number or value",
            _numbered(request.options),
            None,
        )
    choice = data["choice"]
    number = _option_number(request.options, choice)
    data["choice"] = number
    data["value"] = request.options[number - 1]
    return data


def _option_number(options: list[str], choice: JsonValue) -> int:
    if isinstance(choice, int) and not isinstance(choice, bool) and 1 <= choice <= len(options):
        return choice
    if isinstance(choice, str) and choice in options:
        return options.index(choice) + 1
    raise _invalid(
        "data.choice",
        f"must be an option number 1..{len(options)} or one of the values",
        _numbered(options),
        choice,
    )


def _text_input(request: Any, response: HumanResponse) -> JsonObject:
    assert isinstance(request, TextInputRequest)
    data = dict(response.data)
    key = "text" if "text" in data else "response"
    text = data.pop(key, None)
    if not isinstance(text, str):
        raise _invalid("data.text", "respond needs 'text' (or 'response') as a string", None, text)
    if not request.min_length <= len(text) <= request.max_length:
        raise _invalid(
            f"data.{key}",
            f"length {len(text)} is outside {request.min_length}..{request.max_length}",
            None,
            text,
        )
    return {"text": text, **data}


_RULES: dict[str, Callable[[Any, HumanResponse], JsonObject]] = {
    "approval": _approval,
    "choice": _choice,
    "text_input": _text_input,
}

FieldCheck = Callable[[str, JsonValue], JsonValue]


def _only(data: JsonObject, fields: dict[str, FieldCheck]) -> JsonObject:
    """Keep the known fields, each checked; name the unknown ones instead of dropping them."""
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise _invalid(f"data.{unknown[0]}", "unexpected field", sorted(fields), data[unknown[0]])
    return {
        name: check(f"data.{name}", data[name]) for name, check in fields.items() if name in data
    }


def _note(path: str, value: JsonValue) -> JsonValue:
    if value is None or (isinstance(value, str) and len(value) <= _MAX_NOTE):
        return value
    raise _invalid(path, f"must be a string of at most {_MAX_NOTE} characters", None, value)


def _any(path: str, value: JsonValue) -> JsonValue:
    return value


def _numbered(options: list[str]) -> list[Any]:
    return [f"{n}: {option}" for n, option in enumerate(options, start=1)]


def _invalid(path: str, message: str, allowed: Any, got: JsonValue) -> InvalidResponse:
    if isinstance(got, str) and len(got) > 200:
        got = got[:200] + "..."
    return InvalidResponse(
        ErrorDetail(
            code=ErrorCode.INVALID_RESPONSE,
            message=message,
            path=path,
            allowed=list(allowed) if allowed is not None else None,
            got=got,
        )
    )
