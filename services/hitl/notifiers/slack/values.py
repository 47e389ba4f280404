"""What a Slack button (its ``value``) or a modal (its ``private_metadata``) carries back to
the gateway: the interaction, the receiver that posted it, the action and, for a one-click
answer, its data. Compact JSON, well under Slack's 2,000 characters. Slack signs the request
that brings it back; the gateway checks that signature, and the broker the answer."""

from dataclasses import dataclass, field
from uuid import UUID

import orjson

from hitl_contract import JsonObject

ANSWER = "hitl-answer"  # action_id prefix of a one-click answer
TYPE = "hitl-type"  # of a button that opens a modal to type the answer
CLAIM = "hitl-claim"  # of the button that claims the interaction for the one who clicks
MAX_VALUE = 2000


class BadValue(ValueError):
    """Not a value hitl put on a button or a modal."""


@dataclass(frozen=True, slots=True)
class Carried:
    interaction_id: UUID
    receiver: str
    action: str
    data: JsonObject = field(default_factory=dict)
    message: str | None = None  # "<channel>/<ts>" of the message a modal was opened from


def encode(carried: Carried) -> str:
    fields: dict[str, object] = {
        "i": str(carried.interaction_id),
        "r": carried.receiver,
        "a": carried.action,
    }
    if carried.data:
        fields["d"] = carried.data
    if carried.message:
        fields["m"] = carried.message
    text = orjson.dumps(fields).decode()
    if len(text) > MAX_VALUE:
        raise ValueError(f"a button value of {len(text)} characters is over Slack's {MAX_VALUE}")
    return text


def decode(text: object) -> Carried:
    if not isinstance(text, str) or len(text) > MAX_VALUE:
        raise BadValue("not a hitl value")
    try:
        fields = orjson.loads(text)
        data = fields.get("d", {})
        if not isinstance(data, dict):
            raise BadValue("its data is not an object")
        message = fields.get("m")
        return Carried(
            UUID(str(fields["i"])), str(fields["r"]), str(fields["a"]), data,
            str(message) if message is not None else None,
        )  # fmt: skip
    except (orjson.JSONDecodeError, KeyError, ValueError, TypeError, AttributeError) as exc:
        raise BadValue(f"not a hitl value: {exc}") from exc
