"""From an hitl outcome to the OpenAI Agents SDK's approve or reject, with the reason the model
reads. Plain data in, plain data out: no SDK, no I/O."""

import json
from dataclasses import dataclass
from typing import Any, Literal

from hitl_contract import InteractionOutcome

BestJudgement = Literal["approve", "reject"]


@dataclass(frozen=True, slots=True)
class Decision:
    """``approved``, or not with ``reason``: the text the model gets as the tool's output."""

    approved: bool
    reason: str | None = None


def decide(outcome: InteractionOutcome, *, best_judgement: BestJudgement = "approve") -> Decision:
    """``approve`` approves; anything else rejects, saying who and why.

    A timeout's outcome follows the request's ``on_timeout`` (an ``approve`` there approves);
    a cancel rejects. "Use your best judgement" hands the decision back to the agent, which
    already chose to call the tool: ``best_judgement="approve"`` runs it (the default),
    ``"reject"`` does not.
    """
    action = outcome.action
    if action == "approve" or (action == "best_judgement" and best_judgement == "approve"):
        return Decision(True)
    who = _who(outcome)
    said = _said(outcome.data)
    if outcome.status == "timed_out":
        reason = "Nobody approved this tool call in time; it was not run."
    elif outcome.status == "cancelled":
        reason = f"The approval was cancelled by {who}; the tool call was not run."
    elif action == "best_judgement":
        reason = f"{who} left it to your judgement; this tool call is not run without approval."
    else:
        reason = f"Rejected by {who}; the tool call was not run."
    return Decision(False, f"{reason} Reason: {said}" if said else reason)


def not_answered(seconds: float) -> Decision:
    """The run waited ``seconds`` and went on without an answer (the request was withdrawn)."""
    return Decision(False, f"No answer within {seconds:g} s; the tool call was not run.")


def arguments_of(raw: str | None) -> Any:
    """The tool call's arguments as JSON data when they parse, else the text as sent."""
    if raw is None:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _who(outcome: InteractionOutcome) -> str:
    identity = outcome.decided_by.identity
    if identity is None:
        return "the approver"
    return identity.display_name or identity.id


def _said(data: dict[str, Any]) -> str | None:
    for key in ("reason", "note"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None
