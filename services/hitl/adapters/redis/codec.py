"""Interaction state <-> Redis hash fields.

``req`` is the request as accepted (immutable), ``st``/``v``/``ra`` status, version and
requested_at, ``ms`` the small mutable part (route, timers, votes, counters, the receivers
reached, the trace context as ``tp``/``ts``) as one JSON value, ``out`` the outcome once there
is one, ``hist`` the audit history (``hitl.core.audit`` items joined by commas; read by
``RedisReads.history``, not here).
"""

from types import MappingProxyType
from typing import Any

import orjson
from pydantic import TypeAdapter

from hitl.core.decoding import REQUEST_ADAPTER
from hitl.core.machine import InteractionState
from hitl.core.tracecontext import TraceContext
from hitl_contract import Claim, InteractionOutcome, Vote

STATE_FIELDS = ("req", "st", "v", "ra", "ms", "out")
_VOTES: TypeAdapter[list[Vote]] = TypeAdapter(list[Vote])


def dump_json(value: Any) -> bytes:
    return orjson.dumps(value)


def dump_request(state: InteractionState) -> bytes:
    """The request as stored and as carried by its notifications (one pydantic pass)."""
    request = state.request
    return request.__pydantic_serializer__.to_json(request)


def dump_mutable(state: InteractionState) -> bytes:
    mutable: dict[str, Any] = {
        "route": state.route,
        "timers": dict(state.timers),
        "votes": [v.model_dump(mode="json") for v in state.votes],
        "ballots": dict(state.ballots),
        "notifications": state.notifications,
        "reminders": state.reminders,
    }
    if state.reached:  # only when a routing config chose the receivers
        mutable["rcv"] = dict(state.reached)
    if state.claim is not None:  # only while claimed (hitl.core.claims)
        mutable["claim"] = state.claim.model_dump(mode="json")
    if state.trace is not None:  # only when the request came with one
        mutable["tp"] = state.trace.traceparent
        if state.trace.tracestate:
            mutable["ts"] = state.trace.tracestate
    return orjson.dumps(mutable)


def dump_outcome(state: InteractionState) -> bytes:
    outcome = state.outcome
    assert outcome is not None
    return outcome.__pydantic_serializer__.to_json(outcome)


def load_state(values: list[Any]) -> InteractionState | None:
    req, status, version, requested_at, mutable, outcome = values
    if req is None or status is None or version is None or requested_at is None:
        return None
    ms = orjson.loads(mutable) if mutable else {}
    claim = ms.get("claim")
    return InteractionState(
        request=REQUEST_ADAPTER.validate_json(req),
        status=status.decode(),
        version=int(version),
        requested_at=float(requested_at),
        route=ms.get("route", "default"),
        timers=MappingProxyType({k: float(v) for k, v in ms.get("timers", {}).items()}),
        votes=tuple(_VOTES.validate_python(ms.get("votes", []))),
        ballots=MappingProxyType(ms.get("ballots", {})),
        notifications=int(ms.get("notifications", 1)),
        reminders=int(ms.get("reminders", 0)),
        reached=MappingProxyType({k: int(v) for k, v in ms.get("rcv", {}).items()}),
        outcome=InteractionOutcome.model_validate_json(outcome) if outcome else None,
        claim=Claim.model_validate(claim) if claim else None,
        trace=TraceContext(ms["tp"], ms.get("ts", "")) if "tp" in ms else None,
    )
