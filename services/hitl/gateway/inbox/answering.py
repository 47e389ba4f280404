"""A posted inbox form turned into an answer (action and data), per kind. Pure.

Every input that carries part of the answer is named after where it goes in the answer's data
(``data.reason``, ``data.answers.<field>``, ``data.decisions.<item id>``), which is also the
path the broker names in an error, so its errors land beside their inputs. The other inputs
are the form's own: ``csrf``, ``kind`` (the kind the form was made for), ``response_id`` (one
per rendered form: a second click is the same answer) and ``action`` (the button pressed).

Nothing here judges the answer: values are only typed as the form's inputs say (a number
input's text becomes a number when it reads as one) and empty inputs are left out. The broker
checks the rest, so an answer is refused here exactly when it would be over the REST API.
"""

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import JsonValue

from hitl_contract import (
    BatchRequest,
    ChoiceRequest,
    ClarifyRequest,
    FormField,
    FormRequest,
    InteractionRequest,
    JsonObject,
    TextInputRequest,
)

Form = Mapping[str, Sequence[str]]
OTHER = "other"  # the value of a clarify question's "Other" option


class NotThisForm(ValueError):
    """The post does not fit the interaction: another kind's form, or an action it does not
    take. The message says what was expected."""


@dataclass(frozen=True, slots=True)
class FormAnswer:
    action: str
    data: JsonObject


def one(form: Form, name: str) -> str:
    """The input's value ('' when absent); the first when it was sent several times. Line
    breaks are a browser's CRLF read back as the LF a person typed."""
    values = form.get(name)
    return values[0].replace("\r\n", "\n") if values else ""


def answer_from_form(request: InteractionRequest, form: Form) -> FormAnswer:
    kind = one(form, "kind")
    if kind != request.kind:
        raise NotThisForm(
            f"this form was made for {kind or 'no kind'!r}; the interaction is {request.kind!r}"
        )
    action = one(form, "action")
    allowed = request.allowed_actions()
    if action not in allowed:
        raise NotThisForm(f"action {action!r} is not one of {', '.join(allowed)}")
    if action == "cancel":
        return FormAnswer(action, _texts(form, "reason"))
    if action == "best_judgement":
        return FormAnswer(action, _texts(form, "note"))
    return FormAnswer(action, _READERS[request.kind](request, form, action))


def _texts(form: Form, *names: str) -> JsonObject:
    """The named text inputs that are not blank."""
    return {name: value for name in names if (value := one(form, f"data.{name}")).strip()}


def _lines(form: Form, name: str) -> list[JsonValue]:
    return [line.strip() for line in one(form, name).splitlines() if line.strip()]


def _number(text: str, integer: bool) -> JsonValue:
    """The number ``text`` reads as, or ``text`` itself for the broker to refuse."""
    try:
        return int(text)
    except ValueError:
        pass
    if integer:
        return text
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else text


def _pick(text: str) -> JsonValue:
    """An option picked by its number (the value of its radio or checkbox)."""
    return int(text) if text.isdigit() else text


def _approval(request: Any, form: Form, action: str) -> JsonObject:
    return _texts(form, "reason")


def _choice(request: Any, form: Form, action: str) -> JsonObject:
    assert isinstance(request, ChoiceRequest)
    data = _texts(form, "justification")
    if request.multiple:
        data["choices"] = [_pick(v) for v in form.get("data.choices", ())]
    elif picked := one(form, "data.choice"):
        data["choice"] = _pick(picked)
    if request.allow_other:
        data.update(_texts(form, "other"))
    return data


def _text_input(request: Any, form: Form, action: str) -> JsonObject:
    assert isinstance(request, TextInputRequest)
    if request.fields is None:
        return {"text": one(form, "data.text")}
    return _texts(form, *(f.name for f in request.fields))


def _edit(request: Any, form: Form, action: str) -> JsonObject:
    data: JsonObject = {"edited": one(form, "data.edited"), **_texts(form, "note")}
    if changes := _lines(form, "data.changes"):
        data["changes"] = changes
    return data


def _conversation(request: Any, form: Form, action: str) -> JsonObject:
    data = _texts(form, "message")
    if questions := _lines(form, "data.follow_up_questions"):
        data["follow_up_questions"] = questions
    return data


def _form(request: Any, form: Form, action: str) -> JsonObject:
    assert isinstance(request, FormRequest)
    answers: dict[str, JsonValue] = {}
    for field in request.fields:
        text = one(form, f"data.answers.{field.name}")
        if text.strip():
            answers[field.name] = _typed(field, text.strip() if field.type != "text" else text)
    return {"answers": answers}


def _typed(field: FormField, text: str) -> JsonValue:
    if field.type in ("integer", "number"):
        return _number(text, field.type == "integer")
    if field.type == "boolean":
        return {"true": True, "false": False}.get(text, text)
    return text


def _clarify(request: Any, form: Form, action: str) -> JsonObject:
    assert isinstance(request, ClarifyRequest)
    answers: dict[str, JsonValue] = {}
    for n, question in enumerate(request.questions, start=1):
        name = f"data.answers.{question.key or n}"
        value = one(form, name)
        if question.options and value == OTHER:
            value = one(form, f"{name}.other")
        elif question.options and value:
            answers[question.key or str(n)] = _pick(value)
            continue
        if value.strip():
            answers[question.key or str(n)] = value
    if (free := one(form, "data.answers.response")).strip():
        answers["response"] = free
    return {"answers": answers}


def _review(request: Any, form: Form, action: str) -> JsonObject:
    return _texts(form, "feedback")


def _batch(request: Any, form: Form, action: str) -> JsonObject:
    assert isinstance(request, BatchRequest)
    data: JsonObject = {}
    if every := one(form, "data.all"):
        data["all"] = every
    ids = [item.id for item in request.items]
    decisions = {i: d for i in ids if (d := one(form, f"data.decisions.{i}"))}
    notes = {i: n for i in ids if (n := one(form, f"data.notes.{i}")).strip()}
    if decisions:
        data["decisions"] = dict[str, JsonValue](decisions)
    if notes:
        data["notes"] = dict[str, JsonValue](notes)
    return data


_READERS: dict[str, Callable[[Any, Form, str], JsonObject]] = {
    "approval": _approval,
    "choice": _choice,
    "text_input": _text_input,
    "edit": _edit,
    "conversation": _conversation,
    "form": _form,
    "clarify": _clarify,
    "confirmation": _review,
    "preview": _review,
    "validation": _review,
    "batch": _batch,
}

_INDEX = re.compile(r"\[\d+\]$")


@dataclass(frozen=True, slots=True)
class FieldError:
    """One error of a refused answer: ``name`` is the input it belongs to (the broker's path
    without a list index), ``message`` what is wrong, with the allowed values."""

    name: str
    message: str


def field_errors(extra: Mapping[str, Any], detail: str | None) -> list[FieldError]:
    """The errors of a refused answer from the problem the gateway raised (its ``errors``
    when the broker listed several, else its own path and detail)."""
    listed = extra.get("errors") or [
        {"path": extra.get("path"), "message": detail, "allowed": extra.get("allowed")}
    ]
    return [_field_error(e) for e in listed]


def _field_error(error: Mapping[str, Any]) -> FieldError:
    path = _INDEX.sub("", str(error.get("path") or ""))
    message = str(error.get("message") or "not accepted")
    allowed = error.get("allowed")
    if isinstance(allowed, list) and allowed and len(allowed) <= 12:
        message += f" (allowed: {', '.join(str(a) for a in allowed)})"
    return FieldError(path, message)
