"""Slack's interaction payloads, read: what was clicked or submitted, by which Slack user,
carrying which hitl value, and a submitted modal's values as the inbox's form fields (so
``hitl.gateway.inbox.answering`` types them as the inbox does, and the broker's errors name
inputs by the same paths). Pure; ``BadPayload`` for anything not shaped as Slack sends it."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import orjson

from hitl.gateway.inbox.answering import FieldError
from hitl.notifiers.slack.values import ANSWER, CLAIM, TYPE, BadValue, Carried, decode


class BadPayload(ValueError):
    """Not an interaction payload as Slack sends one; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class Click:
    user: str
    carried: Carried
    opens_modal: bool  # a button that opens a modal, not a one-click answer
    trigger_id: str
    channel: str | None  # where the message is: for a reply only the user sees
    claims: bool = False  # the Claim button: claim it for the user, answer nothing


@dataclass(frozen=True, slots=True)
class Submission:
    user: str
    carried: Carried
    form: dict[str, list[str]]  # inputs by block_id, as the inbox's form fields
    inputs: list[str]  # the block_ids of the modal's inputs, in order


def read(body: bytes) -> dict[str, Any]:
    """The JSON of the ``payload`` form field."""
    try:
        fields = parse_qs(body.decode(), max_num_fields=20, strict_parsing=True)
        payload = orjson.loads(fields["payload"][0])
    except (UnicodeDecodeError, ValueError, KeyError, orjson.JSONDecodeError) as exc:
        raise BadPayload(f"the body is not a form with a JSON payload field ({exc})") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        raise BadPayload("the payload is not an object with a type")
    return payload


def click(payload: Mapping[str, Any]) -> Click | None:
    """The hitl button clicked; None for another app's or hitl's link button."""
    user = _user(payload)
    actions = payload.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        raise BadPayload("block_actions without actions")
    action = actions[0]
    action_id = str(action.get("action_id", ""))
    if not action_id.startswith((ANSWER + ":", TYPE + ":", CLAIM + ":")):
        return None
    channel = payload.get("channel") or payload.get("container") or {}
    where = channel.get("id") or channel.get("channel_id") if isinstance(channel, dict) else None
    return Click(
        user=user,
        carried=_carried(action.get("value")),
        opens_modal=action_id.startswith(TYPE + ":"),
        trigger_id=str(payload.get("trigger_id", "")),
        channel=str(where) if where else None,
        claims=action_id.startswith(CLAIM + ":"),
    )


def submission(payload: Mapping[str, Any]) -> Submission:
    view = payload.get("view")
    if not isinstance(view, dict):
        raise BadPayload("view_submission without a view")
    carried = _carried(view.get("private_metadata"))
    values = (view.get("state") or {}).get("values")
    if not isinstance(values, dict):
        raise BadPayload("view_submission without state.values")
    form: dict[str, list[str]] = {}
    for block_id, elements in values.items():
        if isinstance(elements, dict):
            form[str(block_id)] = _values(elements.get("value"))
    blocks = view.get("blocks") or []
    inputs = [str(b.get("block_id")) for b in blocks
              if isinstance(b, dict) and b.get("type") == "input"]  # fmt: skip
    return Submission(_user(payload), carried, form, inputs or list(form))


def block_errors(errors: list[FieldError], inputs: list[str]) -> dict[str, str]:
    """The broker's errors by the modal input they belong to; one that belongs to none is
    shown under the first input."""
    shown: dict[str, str] = {}
    for error in errors:
        block = error.name if error.name in inputs else (inputs[0] if inputs else error.name)
        shown.setdefault(block, error.message[:2000])
    return shown


def _values(element: object) -> list[str]:
    if not isinstance(element, dict):
        return []
    if element.get("value") is not None:
        return [str(element["value"])]
    if isinstance(element.get("selected_option"), dict):
        return [str(element["selected_option"].get("value", ""))]
    if isinstance(element.get("selected_options"), list):
        return [str(o.get("value", "")) for o in element["selected_options"] if isinstance(o, dict)]
    if element.get("selected_date"):
        return [str(element["selected_date"])]
    return []


def _user(payload: Mapping[str, Any]) -> str:
    user = payload.get("user")
    if not isinstance(user, dict) or not isinstance(user.get("id"), str) or not user["id"]:
        raise BadPayload("the payload names no user")
    return str(user["id"])


def _carried(value: object) -> Carried:
    try:
        return decode(value)
    except BadValue as exc:
        raise BadPayload(str(exc)) from exc
