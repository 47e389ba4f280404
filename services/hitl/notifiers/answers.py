"""Which answers a person can give with one click, and which need typing, per kind: shared by
the channels that show buttons or links (Slack, email), so both offer the same.

A one-click answer carries its whole ``action`` and ``data`` (approve; choose option 2;
proceed; cancel). An answer that needs typing (feedback to revise, a text, an edited copy, a
form) is offered as a way to type it: a Slack modal, or the inbox's page for the interaction.
Nothing here judges an answer: the broker still checks every one.
"""

from dataclasses import dataclass, field
from typing import Literal

from hitl_contract import ChoiceRequest, InteractionRequest, JsonObject

Style = Literal["primary", "danger"] | None
MAX_OPTION_BUTTONS = 10  # a choice with more options is answered by typing (a modal, the inbox)
_REVIEW = ("confirmation", "preview", "validation")
_LABELS = {
    "approve": "Approve",
    "reject": "Reject",
    "proceed": "Proceed",
    "revise": "Revise…",
    "refine": "Refine…",
    "cancel": "Cancel",
    "respond": "Answer…",
    "edit": "Edit…",
    "submit": "Fill in…",
    "choose": "Choose…",
}


@dataclass(frozen=True, slots=True)
class OneClick:
    label: str
    action: str
    data: JsonObject = field(default_factory=dict)
    style: Style = None


@dataclass(frozen=True, slots=True)
class Typed:
    """An action whose answer is typed: ``label`` names the way to it."""

    label: str
    action: str


def one_click(request: InteractionRequest) -> list[OneClick]:
    if request.kind == "approval":
        return [
            OneClick("Approve", "approve", style="primary"),
            OneClick("Reject", "reject", style="danger"),
        ]
    if isinstance(request, ChoiceRequest) and _options_are_buttons(request):
        return [
            OneClick(option, "choose", {"choice": n})
            for n, option in enumerate(request.options, start=1)
        ]
    if request.kind in _REVIEW:
        return [
            OneClick("Proceed", "proceed", style="primary"),
            OneClick("Cancel", "cancel", style="danger"),
        ]
    return []


def typed(request: InteractionRequest) -> list[Typed]:
    """The actions of ``request`` that need typing, in the order to offer them."""
    if request.kind == "approval":
        return []
    if isinstance(request, ChoiceRequest):
        return [] if _options_are_buttons(request) else [Typed(_LABELS["choose"], "choose")]
    if request.kind in _REVIEW:
        feedback = [a for a in request.allowed_actions() if a in ("revise", "refine")]
        return [Typed(_LABELS[a], a) for a in feedback]
    actions = [a for a in request.ACTIONS if a not in ("cancel", "best_judgement")]
    return [Typed(_LABELS.get(a, a.capitalize() + "…"), a) for a in actions[:1]]


def _options_are_buttons(request: ChoiceRequest) -> bool:
    return (
        not request.multiple
        and not request.allow_other
        and (len(request.options) <= MAX_OPTION_BUTTONS)
    )


def described(action: str, data: JsonObject) -> str:
    """What a one-click answer does, in words: "approve", "choose option 2"."""
    choice = data.get("choice")
    return f"choose option {choice}" if action == "choose" and choice is not None else action
