"""Each transition's audit history entries, from the events it emits, and the compact form the
store keeps them in.

A transition's entries are stored as one item (``encode``): a JSON array ``[at, version,
entry, ...]`` whose entries are objects with one-letter keys (``_SHORT``) and event codes
(``_CODES``); an entry gives ``t`` or ``v`` only when its time or version differs from the
transition's, and ``"=": 1`` when its ``by``, ``channel`` and ``response_id`` are those of the
entry before it (the outcome decided by the answer of the same transition). That is about
half the bytes of one JSON object per entry, and builds no models on the hot path. ``entries``
turns stored items (parsed) back into entries in the shape of ``hitl_contract.HistoryEntry``
(epoch seconds for ``at``, nulls left out); an item that is one whole entry as a JSON object
(a note: a refused or late answer, a delivery record) is read as it is.
"""

from collections.abc import Sequence
from typing import Any

import orjson

from hitl_contract import (
    ErrorDetail,
    HistoryEntry,
    HumanResponse,
    Identity,
    InteractionOutcome,
    LifecycleEvent,
    LifecycleEventName,
)

from .machine import Emit, Transition

Entry = dict[str, Any]
_ANSWERS = {LifecycleEventName.RESPONDED, LifecycleEventName.VOTED}
_FINAL = {LifecycleEventName.RESOLVED, LifecycleEventName.CANCELLED, LifecycleEventName.TIMED_OUT}
_CLAIMS = {LifecycleEventName.CLAIMED, LifecycleEventName.RELEASED}
_CODES = {
    "requested": "q",
    "notified": "n",
    "reminded": "m",
    "escalated": "x",
    "responded": "a",
    "voted": "o",
    "resolved": "R",
    "cancelled": "C",
    "timed_out": "T",
    "claimed": "L",
    "released": "U",
}
_EVENTS = {code: name for name, code in _CODES.items()}
# entry field -> its key in a stored item ("e" event, "t" at, "v" version, "=" same answer)
_SHORT = {
    "by": "b",
    "channel": "c",
    "response_id": "r",
    "action": "a",
    "route": "o",
    "receivers": "s",
    "decided_by": "d",
    "policy": "p",
    "claim": "k",
}
_LONG = tuple((short, name) for name, short in _SHORT.items())
_SAME = ("b", "c", "r")  # what "=" takes from the entry before
_IDENTITY_FIELDS = frozenset({"id", "display_name", "service", "groups"})


def encode(transition: Transition) -> bytes | None:
    """The transition's entries as the one item the store appends; None when it emits no
    lifecycle event."""
    items: list[Any] = []
    previous: Entry = {}
    for command in transition.commands:
        if not isinstance(command, Emit):
            continue
        event = command.event
        at = event.at.timestamp()
        version = int((event.event_id or "::").split(":")[1] or transition.state.version)
        if not items:
            items += [at, version]
        item = _item(transition, event)
        if at != items[0]:
            item["t"] = at
        if version != items[1]:
            item["v"] = version
        if "d" in item and "b" in item and all(item.get(k) == previous.get(k) for k in _SAME):
            for k in _SAME:
                item.pop(k, None)
            item["="] = 1
        items.append(item)
        previous = item
    return orjson.dumps(items) if items else None


def _item(transition: Transition, event: LifecycleEvent) -> Entry:
    """One entry in its stored form, but for its time and version."""
    name = event.event
    item: Entry = {"e": _CODES.get(name.value, name.value)}
    response = transition.response
    if name == LifecycleEventName.REQUESTED:
        item["b"] = identity(transition.state.request.requester)
    elif name in _CLAIMS and transition.claimed is not None:
        claimed = transition.claimed
        item["b"] = identity(claimed.by)
        item["c"] = claimed.channel
        item["r"] = str(claimed.claim_id)
        if event.claim is not None:
            item["k"] = event.claim.model_dump(mode="json", exclude_none=True)
    elif event.route is not None:
        item["o"] = event.route
        if event.receivers is not None:
            item["s"] = event.receivers
    elif name in _ANSWERS and response is not None:
        item["b"] = identity(response.responder)
        item["c"] = response.channel
        item["r"] = str(response.response_id)
        item["a"] = response.action
    elif name in _FINAL and event.outcome is not None:
        _final(item, event.outcome)
    return item


def _final(item: Entry, outcome: InteractionOutcome) -> None:
    who = outcome.decided_by
    item["a"] = outcome.action
    item["d"] = who.type
    if who.identity is not None:
        item["b"] = identity(who.identity)
    if who.channel is not None:
        item["c"] = who.channel
    if who.policy is not None:
        item["p"] = who.policy
    if outcome.response_id is not None:
        item["r"] = str(outcome.response_id)


def entries(items: Sequence[Any]) -> list[Entry]:
    """Stored items, parsed (``encode``'s arrays, or one whole entry each), as entries,
    oldest first."""
    out: list[Entry] = []
    for value in items:
        if isinstance(value, dict):
            out.append(value)
            continue
        at, version, *parts = value
        previous: Entry = {}
        for item in parts:
            code = item["e"]
            entry: Entry = {
                "at": item.get("t", at),
                "event": _EVENTS.get(code, code),
                "version": item.get("v", version),
            }
            for short, name in _LONG:
                if short in item:
                    entry[name] = item[short]
            if item.get("="):
                for name in ("by", "channel", "response_id"):
                    if name in previous:
                        entry[name] = previous[name]
            out.append(entry)
            previous = entry
    return out


def read(items: Sequence[Any]) -> list[HistoryEntry]:
    """Stored items, parsed, as the contract's entries."""
    return [HistoryEntry.model_validate(entry) for entry in entries(items)]


def history_of(transition: Transition) -> list[Entry]:
    """The entries of ``transition``, oldest first: one per lifecycle event it emits."""
    item = encode(transition)
    return entries([orjson.loads(item)]) if item is not None else []


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
        "by": identity(response.responder),
        "channel": response.channel,
        "response_id": str(response.response_id),
        "action": response.action,
    }
    if error is not None:
        entry["error"] = error.model_dump(mode="json", exclude_none=True)
    return entry


def identity(who: Identity) -> dict[str, Any]:
    """``who`` as JSON without its defaults (``model_dump(exclude_defaults=True)``), read off
    its fields rather than through pydantic's serializer."""
    if _IDENTITY_FIELDS != _KNOWN:  # pragma: no cover - a field was added to Identity
        dumped: dict[str, Any] = who.model_dump(mode="json", exclude_defaults=True)
        return dumped
    out: dict[str, Any] = {"id": who.id}
    if who.display_name is not None:
        out["display_name"] = who.display_name
    if who.service is not None:
        out["service"] = who.service
    if who.groups:
        out["groups"] = list(who.groups)
    return out


_KNOWN = frozenset(Identity.model_fields)
