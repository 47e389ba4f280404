"""The interaction state machine: pending -> resolved | cancelled | timed_out.

Pure functions over plain data. Each returns a ``Transition``: the new state, the deadlines to
(un)schedule and the messages to send. An adapter commits all of it in one atomic Redis step
(compare-and-set on ``version``), so two broker replicas can never both resolve an interaction
or both fire one of its timers. The models built here are made from validated parts, so they
skip re-validation (``trusted``, a faster ``model_construct``); everything from outside is
validated at the edges.

Timers are named: ``timeout``, ``remind``, ``escalate:<n>``. The state keeps each one's due
time, and a timer fires only when the state says it is due, so a timer fired twice (a lease that
ran out, a skewed clock) is a no-op the second time.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache
from types import MappingProxyType
from uuid import UUID

from hitl.core.decisions import check_allowed, failed_action, record, tally
from hitl.core.policies import AutoAnswer
from hitl.core.rules import Decision, ballot, decide
from hitl.core.trusted import trusted
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
    Vote,
)
from hitl_contract.kinds import UNIVERSAL_ACTIONS

PENDING = "pending"
TIMEOUT = "timeout"
REMIND = "remind"
ESCALATE = "escalate:"
EARLY = "early"  # not a timer of the state: answers held until their request arrives

_FINAL_EVENT = {
    OutcomeStatus.RESOLVED: LifecycleEventName.RESOLVED,
    OutcomeStatus.CANCELLED: LifecycleEventName.CANCELLED,
    OutcomeStatus.TIMED_OUT: LifecycleEventName.TIMED_OUT,
}
_NO_TIMERS: Mapping[str, float] = MappingProxyType({})
_NO_BALLOTS: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class InteractionState:
    request: InteractionRequest
    status: str
    version: int
    requested_at: float
    route: str
    timers: Mapping[str, float] = field(default_factory=lambda: _NO_TIMERS)
    votes: tuple[Vote, ...] = ()
    ballots: Mapping[str, str] = field(default_factory=lambda: _NO_BALLOTS)
    notifications: int = 1
    reminders: int = 0
    outcome: InteractionOutcome | None = None

    @property
    def is_pending(self) -> bool:
        return self.status == PENDING

    @property
    def deadline(self) -> float | None:
        return self.timers.get(TIMEOUT)


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
    response: HumanResponse | None = None  # the answer that caused it, for the audit history

    @property
    def decided(self) -> bool:
        return not self.state.is_pending


def deadline_member(interaction_id: object, purpose: str) -> str:
    return f"{interaction_id}|{purpose}"


def parse_deadline_member(member: str) -> tuple[str, str]:
    interaction_id, _, purpose = member.partition("|")
    return interaction_id, purpose


def open_interaction(
    request: InteractionRequest, now: float, route: str, auto: AutoAnswer | None = None
) -> Transition:
    """A new request becomes pending (notify people, arm its timers), or, when an auto-approve
    policy answers it, resolved at once without bothering anyone."""
    route = request.route or route
    state = InteractionState(
        request=request, status=PENDING, version=1, requested_at=now, route=route
    )
    if auto is not None:
        response = HumanResponse(
            interaction_id=request.id,
            action=auto.action,
            data=auto.data,
            responder=request.requester,
            channel="policy",
        )
        decision = decide(request, response, _dt(now))
        outcome = _outcome(state, now, decision, DecidedBy(type="policy", policy=auto.policy), None)
        requested = Emit(_event(LifecycleEventName.REQUESTED, request, now, state.version + 1))
        return _finish(state, outcome, now, lead=(requested,))
    timers = {TIMEOUT: now + request.timeout_seconds} if request.timeout_seconds else {}
    if request.reminder_every_seconds:
        timers[REMIND] = now + request.reminder_every_seconds
    for n, step in enumerate(request.escalation):
        timers[f"{ESCALATE}{n}"] = now + step.after_seconds
    state = replace(state, timers=MappingProxyType(timers))
    notify = _notify(state, now, NotifyReason.REQUESTED, route, 1)
    requested = Emit(_event(LifecycleEventName.REQUESTED, request, now, state.version))
    return _changed(state, state, (notify[0], requested, notify[1]))


def answer(state: InteractionState, response: HumanResponse, now: float) -> Transition:
    """Apply an answer. Raises ``InvalidResponse`` / ``NotAllowed`` (state unchanged) or
    ``AlreadyResolved`` (carrying the recorded outcome)."""
    if not state.is_pending:
        assert state.outcome is not None
        raise AlreadyResolved(state.outcome)
    request = state.request
    check_allowed(request, response)
    decision = decide(request, response, _dt(now))
    responded = _event(
        LifecycleEventName.RESPONDED,
        request,
        now,
        state.version + 1,
        response_id=response.response_id,
    )
    requester = response.responder.id == request.requester.id
    if request.decision.policy == "first" or requester or response.action in UNIVERSAL_ACTIONS:
        who = DecidedBy(
            type="requester" if requester else "person",
            identity=response.responder,
            channel=response.channel,
        )
        outcome = _outcome(state, now, decision, who, response)
        finished = _finish(state, outcome, now, lead=(Emit(responded),))
        return replace(finished, response=response)
    return replace(_vote(state, response, decision, now, responded), response=response)


def _vote(
    state: InteractionState,
    response: HumanResponse,
    decision: Decision,
    now: float,
    responded: LifecycleEvent,
) -> Transition:
    vote = trusted(
        Vote,
        responder=response.responder,
        channel=response.channel,
        action=decision.action,
        data=decision.data,
        response_id=response.response_id,
        at=_dt(now),
    )
    votes = record(state.votes, vote)
    ballots = {**state.ballots, str(response.response_id): ballot(decision)}
    ballots = {k: v for k, v in ballots.items() if k in {str(v.response_id) for v in votes}}
    voted_state = replace(state, votes=votes, ballots=MappingProxyType(ballots))
    verdict = tally(state.request, votes, ballots)
    request = state.request
    policy = request.decision.policy
    voted = _event(
        LifecycleEventName.VOTED, request, now, state.version + 1, response_id=response.response_id
    )
    if verdict is None:
        return _changed(
            state, replace(voted_state, version=state.version + 1), (Emit(responded), Emit(voted))
        )
    by = DecidedBy(type="responders", policy=policy)
    if verdict.winner is not None:
        winner = verdict.winner
        decision = Decision(OutcomeStatus.RESOLVED, winner.action, winner.data)
        outcome = _outcome(voted_state, now, decision, by, None)
        outcome = outcome.model_copy(update={"response_id": winner.response_id})
    else:
        action, reason = failed_action(request)
        decision = Decision(OutcomeStatus.RESOLVED, action, {"reason": reason})
        outcome = _outcome(voted_state, now, decision, by, None)
    return _finish(voted_state, outcome, now, lead=(Emit(responded), Emit(voted)))


def fire(state: InteractionState, purpose: str, now: float) -> Transition | None:
    """A timer fell due. None when there is nothing to do: already finished, not (or no
    longer) due; the caller then puts the timer back at its time or drops it."""
    due = state.timers.get(purpose)
    if not state.is_pending or due is None or due > now:
        return None
    request = state.request
    if purpose == TIMEOUT:
        policy = request.on_timeout
        decision = Decision(OutcomeStatus.TIMED_OUT, policy.action, dict(policy.data))
        return _finish(state, _outcome(state, now, decision, DecidedBy(type="timeout"), None), now)
    timers = dict(state.timers)
    attempt = state.notifications + 1
    if purpose == REMIND:
        reminders = state.reminders + 1
        more = request.max_reminders is None or reminders < request.max_reminders
        if more and request.reminder_every_seconds:
            timers[REMIND] = now + request.reminder_every_seconds
        else:
            del timers[REMIND]
        new = replace(
            state,
            timers=MappingProxyType(timers),
            reminders=reminders,
            notifications=attempt,
            version=state.version + 1,
        )
        return _changed(state, new, _notify(new, now, NotifyReason.REMINDER, state.route, attempt))
    if purpose.startswith(ESCALATE):
        step = request.escalation[int(purpose.removeprefix(ESCALATE))]
        del timers[purpose]
        new = replace(
            state, timers=MappingProxyType(timers), notifications=attempt, version=state.version + 1
        )
        return _changed(state, new, _notify(new, now, NotifyReason.ESCALATION, step.route, attempt))
    return None


def _notify(
    state: InteractionState, now: float, reason: NotifyReason, route: str, attempt: int
) -> tuple[Command, Command]:
    request = state.request
    deadline = state.deadline
    notification = trusted(
        Notification,
        interaction_id=request.id,
        reason=reason,
        route=route,
        attempt=attempt,
        deadline=_dt(deadline) if deadline else None,
        request=request,
    )
    name = {
        NotifyReason.REQUESTED: LifecycleEventName.NOTIFIED,
        NotifyReason.REMINDER: LifecycleEventName.REMINDED,
        NotifyReason.ESCALATION: LifecycleEventName.ESCALATED,
    }[reason]
    return Notify(notification), Emit(_event(name, request, now, state.version, route=route))


def _changed(
    old: InteractionState, new: InteractionState, commands: tuple[Command, ...]
) -> Transition:
    """A transition whose deadline changes are the difference of the two states' timers."""
    iid = old.request.id
    schedule = tuple(
        Deadline(at, deadline_member(iid, name))
        for name, at in new.timers.items()
        if old.timers.get(name) != at or old is new
    )
    unschedule = tuple(deadline_member(iid, name) for name in old.timers if name not in new.timers)
    return Transition(new, commands, schedule=schedule, unschedule=unschedule)


def _finish(
    state: InteractionState, outcome: InteractionOutcome, now: float, lead: tuple[Command, ...] = ()
) -> Transition:
    request = state.request
    final = _event(
        _FINAL_EVENT[outcome.status],
        request,
        now,
        state.version + 1,
        outcome=outcome,
        response_id=outcome.response_id,
    )
    new_state = replace(
        state,
        status=outcome.status.value,
        version=state.version + 1,
        outcome=outcome,
        timers=_NO_TIMERS,
    )
    return _changed(state, new_state, (*lead, Deliver(outcome, request.reply_to), Emit(final)))


def _outcome(
    state: InteractionState,
    now: float,
    decision: Decision,
    decided_by: DecidedBy,
    response: HumanResponse | None,
) -> InteractionOutcome:
    request = state.request
    data: JsonObject = decision.data
    return trusted(
        InteractionOutcome,
        interaction_id=request.id,
        thread_id=request.thread_id,
        kind=request.kind,
        status=decision.status,
        action=decision.action,
        data=data,
        decided_by=decided_by,
        response_id=response.response_id if response else None,
        votes=list(state.votes),
        requested_at=_dt(state.requested_at),
        resolved_at=_dt(now),
        resume_state=request.resume_state,
    )


def _event(
    name: LifecycleEventName,
    request: InteractionRequest,
    now: float,
    version: int,
    *,
    response_id: UUID | None = None,
    outcome: InteractionOutcome | None = None,
    route: str | None = None,
) -> LifecycleEvent:
    """An event of the transition to ``version``; its id is stable across republishing."""
    return trusted(
        LifecycleEvent,
        event=name,
        event_id=f"{request.id}:{version}:{name.value}",
        interaction_id=request.id,
        thread_id=request.thread_id,
        kind=request.kind,
        at=_dt(now),
        response_id=response_id,
        outcome=outcome,
        route=route,
    )


@lru_cache(maxsize=64)  # one transition asks for the same instant several times
def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
