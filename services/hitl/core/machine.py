"""The interaction state machine: pending -> resolved | cancelled | timed_out.

Pure functions over plain data. Each returns a ``Transition``: the new state, the deadlines to
(un)schedule and the messages to send. An adapter commits all of it in one atomic Redis step
(compare-and-set on ``version``), so two broker replicas can never both resolve one interaction.
"""

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from hitl.core.answers import decide
from hitl.errors import AlreadyResolved
from hitl_contract import (
    DecidedBy,
    HumanResponse,
    InteractionOutcome,
    InteractionRequest,
    JsonObject,
    LifecycleEvent,
    LifecycleEventName,
    Notification,
    NotifyReason,
    OutcomeStatus,
)

PENDING = "pending"
TIMEOUT = "timeout"

_FINAL_EVENT = {
    OutcomeStatus.RESOLVED: LifecycleEventName.RESOLVED,
    OutcomeStatus.CANCELLED: LifecycleEventName.CANCELLED,
    OutcomeStatus.TIMED_OUT: LifecycleEventName.TIMED_OUT,
}


@dataclass(frozen=True, slots=True)
class InteractionState:
    request: InteractionRequest
    status: str
    version: int
    requested_at: float
    deadline: float | None = None
    outcome: InteractionOutcome | None = None

    @property
    def is_pending(self) -> bool:
        return self.status == PENDING


@dataclass(frozen=True, slots=True)
class Deadline:
    """A moment the poller must wake this interaction; ``member`` names it in the deadline set."""

    at: float
    member: str


@dataclass(frozen=True, slots=True)
class Notify:
    notification: Notification


@dataclass(frozen=True, slots=True)
class Emit:
    event: LifecycleEvent


@dataclass(frozen=True, slots=True)
class Deliver:
    outcome: InteractionOutcome
    reply_to: str


Command = Notify | Emit | Deliver


@dataclass(frozen=True, slots=True)
class Transition:
    state: InteractionState
    commands: tuple[Command, ...]
    schedule: tuple[Deadline, ...] = ()
    unschedule: tuple[str, ...] = ()


def deadline_member(interaction_id: object, purpose: str) -> str:
    return f"{interaction_id}|{purpose}"


def parse_deadline_member(member: str) -> tuple[str, str]:
    interaction_id, _, purpose = member.partition("|")
    return interaction_id, purpose


def open_interaction(request: InteractionRequest, now: float, route: str) -> Transition:
    """A new request becomes pending: notify people, tell the world, arm the timeout."""
    deadline = now + request.timeout_seconds if request.timeout_seconds else None
    state = InteractionState(
        request=request, status=PENDING, version=1, requested_at=now, deadline=deadline
    )
    notification = Notification(
        interaction_id=request.id,
        reason=NotifyReason.REQUESTED,
        route=route,
        attempt=1,
        deadline=_dt(deadline) if deadline else None,
        request=request,
    )
    commands: tuple[Command, ...] = (
        Notify(notification),
        Emit(_event(LifecycleEventName.REQUESTED, request, now)),
        Emit(_event(LifecycleEventName.NOTIFIED, request, now)),
    )
    schedule = (Deadline(deadline, deadline_member(request.id, TIMEOUT)),) if deadline else ()
    return Transition(state, commands, schedule=schedule)


def answer(state: InteractionState, response: HumanResponse, now: float) -> Transition:
    """A decisive answer resolves a pending interaction; anything after that is refused with
    the recorded outcome. Raises ``InvalidResponse`` (state unchanged) or ``AlreadyResolved``."""
    if not state.is_pending:
        assert state.outcome is not None
        raise AlreadyResolved(state.outcome)
    request = state.request
    decision = decide(request, response)
    who = "requester" if response.responder.id == request.requester.id else "person"
    outcome = _outcome(
        state,
        now,
        decision.status,
        decision.action,
        decision.data,
        DecidedBy(type=who, identity=response.responder, channel=response.channel),
        response,
    )
    responded = _event(LifecycleEventName.RESPONDED, request, now).model_copy(
        update={"response_id": response.response_id}
    )
    return _finish(state, outcome, now, lead=(Emit(responded),))


def expire(state: InteractionState, now: float) -> Transition | None:
    """The timeout fired. None when there is nothing to do (already finished, or not yet due:
    a deadline claimed early by a clock-skewed replica is simply claimed again later)."""
    if not state.is_pending or state.deadline is None or state.deadline > now:
        return None
    policy = state.request.on_timeout
    outcome = _outcome(
        state,
        now,
        OutcomeStatus.TIMED_OUT,
        policy.action,
        dict(policy.data),
        DecidedBy(type="timeout"),
        None,
    )
    return _finish(state, outcome, now)


def _finish(
    state: InteractionState, outcome: InteractionOutcome, now: float, lead: tuple[Command, ...] = ()
) -> Transition:
    request = state.request
    final = _event(_FINAL_EVENT[outcome.status], request, now).model_copy(
        update={"outcome": outcome, "response_id": outcome.response_id}
    )
    new_state = replace(
        state, status=outcome.status.value, version=state.version + 1, outcome=outcome
    )
    unschedule = (deadline_member(request.id, TIMEOUT),) if state.deadline else ()
    commands = (*lead, Deliver(outcome, request.reply_to), Emit(final))
    return Transition(new_state, commands, unschedule=unschedule)


def _outcome(
    state: InteractionState,
    now: float,
    status: OutcomeStatus,
    action: str,
    data: JsonObject,
    decided_by: DecidedBy,
    response: HumanResponse | None,
) -> InteractionOutcome:
    request = state.request
    return InteractionOutcome(
        interaction_id=request.id,
        thread_id=request.thread_id,
        kind=request.kind,
        status=status,
        action=action,
        data=data,
        decided_by=decided_by,
        response_id=response.response_id if response else None,
        requested_at=_dt(state.requested_at),
        resolved_at=_dt(now),
        resume_state=request.resume_state,
    )


def _event(name: LifecycleEventName, request: InteractionRequest, now: float) -> LifecycleEvent:
    return LifecycleEvent(
        event=name,
        interaction_id=request.id,
        thread_id=request.thread_id,
        kind=request.kind,
        at=_dt(now),
    )


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
