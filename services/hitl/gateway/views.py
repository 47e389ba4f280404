"""Interaction state as the REST API shows it. Pure: state and ``now`` in, models out."""

from datetime import UTC, datetime
from typing import cast

from hitl.core.claims import live
from hitl.core.machine import InteractionState
from hitl.gateway.models import InteractionDetail, InteractionSummary, Status
from hitl_contract import HistoryEntry


def summary(state: InteractionState, now: float) -> InteractionSummary:
    request = state.request
    deadline = state.deadline if state.is_pending else None
    return InteractionSummary(
        id=request.id,
        kind=request.kind,
        status=_status(state),
        thread_id=request.thread_id,
        node_name=request.node_name,
        requester=request.requester,
        prompt=request.prompt,
        labels=request.labels,
        requested_at=_time(state.requested_at),
        deadline=_time(deadline) if deadline is not None else None,
        time_waiting_seconds=round(max(0.0, _ended(state, now) - state.requested_at), 3),
        time_left_seconds=round(max(0.0, deadline - now), 3) if deadline is not None else None,
        actions=_actions(state),
        claim=live(state.claim, now),
    )


def detail(state: InteractionState, history: list[HistoryEntry], now: float) -> InteractionDetail:
    deadline = state.deadline if state.is_pending else None
    return InteractionDetail(
        id=state.request.id,
        status=_status(state),
        version=state.version,
        requested_at=_time(state.requested_at),
        deadline=_time(deadline) if deadline is not None else None,
        timers={name: _time(at) for name, at in state.timers.items()},
        route=state.route,
        notifications=state.notifications,
        reminders=state.reminders,
        actions=_actions(state),
        votes=list(state.votes),
        outcome=state.outcome,
        request=state.request,
        history=history,
        claim=live(state.claim, now),
    )


def _status(state: InteractionState) -> Status:
    return cast(Status, state.status)


def _actions(state: InteractionState) -> list[str]:
    return list(state.request.allowed_actions()) if state.is_pending else []


def _ended(state: InteractionState, now: float) -> float:
    outcome = state.outcome
    return outcome.resolved_at.timestamp() if outcome is not None else now


def _time(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
