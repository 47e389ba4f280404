"""Which answers fit which request: the rules per kind, as pure functions.

``decide`` turns an answer into the outcome's status, action and normalised data, or raises
``InvalidResponse`` naming the field, what is allowed and what was sent; the interaction stays
pending. ``ballot`` says which answers count as the same vote under a multi-person policy.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hitl.core.rules.checks import invalid, note, nullable, only
from hitl.core.rules.form import form
from hitl.core.rules.selection import batch, choice, clarify
from hitl.core.rules.simple import approval, conversation, edit, review, text_input
from hitl_contract import HumanResponse, InteractionRequest, JsonObject, OutcomeStatus

Rule = Callable[[Any, HumanResponse, datetime], JsonObject]

RULES: dict[str, Rule] = {
    "approval": approval,
    "choice": choice,
    "text_input": text_input,
    "edit": edit,
    "conversation": conversation,
    "form": form,
    "clarify": clarify,
    "confirmation": review,
    "preview": review,
    "validation": review,
    "batch": batch,
}


@dataclass(frozen=True, slots=True)
class Decision:
    status: OutcomeStatus
    action: str
    data: JsonObject


def decide(request: InteractionRequest, response: HumanResponse, at: datetime) -> Decision:
    allowed = request.allowed_actions()
    if response.action not in allowed:
        raise invalid(
            "action", f"{request.kind} does not accept this action", allowed, response.action
        )
    if response.action == "cancel":
        return Decision(
            OutcomeStatus.CANCELLED, "cancel", only(response.data, {"reason": nullable(note)})
        )
    if response.action == "best_judgement":
        return Decision(
            OutcomeStatus.RESOLVED, "best_judgement", only(response.data, {"note": nullable(note)})
        )
    return Decision(
        OutcomeStatus.RESOLVED, response.action, RULES[request.kind](request, response, at)
    )


def ballot(decision: Decision) -> str:
    """Answers with the same ballot agree. The reasons people give do not split a vote."""
    data = {
        k: v
        for k, v in decision.data.items()
        if k not in ("reason", "justification", "feedback", "note", "transcript")
    }
    return f"{decision.action}:{json.dumps(data, sort_keys=True, default=str)}"
