"""Each transition's audit history entries, from the events it emits.

Plain dicts in the shape of ``hitl_contract.HistoryEntry`` (epoch seconds for ``at``, nulls
left out), so the hot path builds no extra models; the store appends them in the same atomic
step as the state, and readers validate them into ``HistoryEntry``.
"""

from typing import Any

import orjson

from hitl_contract import ErrorDetail, HumanResponse, InteractionOutcome, LifecycleEventName

from .machine import Emit, Transition

Entry = dict[str, Any]
_ANSWERS = {LifecycleEventName.RESPONDED, LifecycleEventName.VOTED}
_FINAL = {LifecycleEventName.RESOLVED, LifecycleEventName.CANCELLED, LifecycleEventName.TIMED_OUT}


def history_of(transition: Transition) -> list[Entry]:
    """The entries of ``transition``, oldest first: one per lifecycle event it emits."""
    request = transition.state.request
    response = transition.response
    out: list[Entry] = []
    for command in transition.commands:
        if not isinstance(command, Emit):
            continue
        event = command.event
        entry: Entry = {
            "at": event.at.timestamp(),
            "event": event.event.value,
            "version": int((event.event_id or "::").split(":")[1] or transition.state.version),
        }
        if event.event == LifecycleEventName.REQUESTED:
            entry["by"] = _identity(request.requester)
        elif event.route is not None:
            entry["route"] = event.route
            if event.receivers is not None:
                entry["receivers"] = event.receivers
        elif event.event in _ANSWERS and response is not None:
            entry["by"] = _identity(response.responder)
            entry["channel"] = response.channel
            entry["response_id"] = str(response.response_id)
            entry["action"] = response.action
        elif event.event in _FINAL and event.outcome is not None:
            entry.update(_decided(event.outcome))
        out.append(entry)
    return out


def _decided(outcome: InteractionOutcome) -> Entry:
    who = outcome.decided_by
    entry: Entry = {"action": outcome.action, "decided_by": who.type}
    if who.identity is not None:
        entry["by"] = _identity(who.identity)
    if who.channel is not None:
        entry["channel"] = who.channel
    if who.policy is not None:
        entry["policy"] = who.policy
    if outcome.response_id is not None:
        entry["response_id"] = str(outcome.response_id)
    return entry


def encoded_history(transition: Transition) -> list[bytes]:
    """``history_of`` as the JSON the store appends."""
    return [orjson.dumps(entry) for entry in history_of(transition)]


def answer_entry(
    event: str,
    response: HumanResponse,
    now: float,
    version: int,
    error: ErrorDetail | None = None,
) -> Entry:
    """An answer that changed nothing: ``refused`` (with its error) or ``late``."""
    entry: Entry = {
        "at": now,
        "event": event,
        "version": version,
        "by": _identity(response.responder),
        "channel": response.channel,
        "response_id": str(response.response_id),
        "action": response.action,
    }
    if error is not None:
        entry["error"] = error.model_dump(mode="json", exclude_none=True)
    return entry


def _identity(who: Any) -> dict[str, Any]:
    dumped: dict[str, Any] = who.model_dump(exclude_defaults=True)
    return dumped
