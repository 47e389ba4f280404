"""Answer rules of the kinds whose answers are plain: approval, text input, edit, conversation,
and the review kinds (confirmation, preview, validation)."""

from datetime import datetime
from typing import Any

from hitl.core.rules.checks import invalid, note, nullable, only, text, texts
from hitl_contract import (
    ConversationRequest,
    HumanResponse,
    JsonObject,
    TextInputRequest,
    Turn,
)


def approval(request: Any, response: HumanResponse, at: datetime) -> JsonObject:
    return only(response.data, {"reason": nullable(note)})


def text_input(request: Any, response: HumanResponse, at: datetime) -> JsonObject:
    assert isinstance(request, TextInputRequest)
    data = dict(response.data)
    if request.fields is not None:
        checks = {f.name: text(f.max_length) for f in request.fields}
        return only(data, checks, required=[f.name for f in request.fields if f.required])
    if "text" in data and "response" in data:
        raise invalid(
            "data.response", "send 'text' or 'response', not both", ["text"], data["response"]
        )
    key = "text" if "text" in data else "response"
    if key not in data:
        raise invalid("data.text", "respond needs 'text' (or 'response')", None, None)
    value = text(request.max_length, min_length=request.min_length)(f"data.{key}", data.pop(key))
    return {"text": value, **data}  # further structured keys travel along (seed 001)


def edit(request: Any, response: HumanResponse, at: datetime) -> JsonObject:
    return only(
        response.data,
        {"edited": text(), "changes": texts(), "note": nullable(note)},
        required=["edited"],
    )


def conversation(request: Any, response: HumanResponse, at: datetime) -> JsonObject:
    assert isinstance(request, ConversationRequest)
    going_on = response.action == "respond"
    data = only(
        response.data,
        {"message": text(min_length=1), "follow_up_questions": texts()},
        required=["message"] if going_on else [],
    )
    turns = [*request.transcript, Turn(role="agent", text=request.prompt)]
    if "message" in data:
        turns.append(Turn(role="human", text=str(data["message"]), by=response.responder, at=at))
    return {
        **data,
        "continue": going_on,
        "transcript": [t.model_dump(mode="json", exclude_none=True) for t in turns],
    }


def review(request: Any, response: HumanResponse, at: datetime) -> JsonObject:
    needs_feedback = response.action in request.FEEDBACK_ACTIONS
    data = only(response.data, {"feedback": note})
    if needs_feedback and not str(data.get("feedback") or "").strip():
        raise invalid(
            "data.feedback",
            f"{response.action} needs feedback saying what to change",
            None,
            data.get("feedback"),
        )
    return data
