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

from hitl.core.decisions import check_allowed, check_claim, failed_action, record, tally
from hitl.core.policies import AutoAnswer
from hitl.core.routing.recipients import Recipients, single
from hitl.core.rules import Decision, ballot, decide
from hitl.core.tracecontext import TraceContext
from hitl.core.trusted import trusted
from hitl.errors import AlreadyResolved
from hitl_contract import (
    Claim,
    DecidedBy,
    HumanResponse,
    InteractionClaim,
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
# Timers of a routing config's receivers: a notification held until a time window opens, a
# route's reminder of one receiver, a route's escalation step (keyed by its delay).
NOTIFY = "notify:"
REMIND_ONE = "remind:"
ESCALATE_AT = "escalate@"

_FINAL_EVENT = {
    OutcomeStatus.RESOLVED: LifecycleEventName.RESOLVED,
    OutcomeStatus.CANCELLED: LifecycleEventName.CANCELLED,
    OutcomeStatus.TIMED_OUT: LifecycleEventName.TIMED_OUT,
}
_NOTIFY_EVENT = {
    NotifyReason.REQUESTED: LifecycleEventName.NOTIFIED,
    NotifyReason.REMINDER: LifecycleEventName.REMINDED,
    NotifyReason.ESCALATION: LifecycleEventName.ESCALATED,
}
_NO_TIMERS: Mapping[str, float] = MappingProxyType({})
_NO_BALLOTS: Mapping[str, str] = MappingProxyType({})
_NO_REACHED: Mapping[str, int] = MappingProxyType({})


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
    # The W3C trace context its request came with (the broker's span for it, when it makes
    # spans): its notifications, outcome and events carry it on (hitl.core.tracecontext).
    trace: TraceContext | None = None
    # Receivers a routing config chose, and how many notifications each got (1 + reminders);
    # empty when the request went to its route alone.
    reached: Mapping[str, int] = field(default_factory=lambda: _NO_REACHED)
    # The last claim taken (hitl.core.claims), possibly expired; None once released or decided.
    claim: Claim | None = None

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
    routed: bool = False  # to a receiver a routing config chose: its message id names it


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
    claimed: InteractionClaim | None = None  # the claim (or release) that caused it, likewise

    @property
    def decided(self) -> bool:
        return not self.state.is_pending


def deadline_member(interaction_id: object, purpose: str) -> str:
    return f"{interaction_id}|{purpose}"


def parse_deadline_member(member: str) -> tuple[str, str]:
    interaction_id, _, purpose = member.partition("|")
    return interaction_id, purpose


def open_interaction(
    request: InteractionRequest,
    now: float,
    route: str,
    auto: AutoAnswer | None = None,
    to: Recipients | None = None,
    trace: TraceContext | None = None,
) -> Transition:
    """A new request becomes pending (notify people, arm its timers), or, when an auto-approve
    policy answers it, resolved at once without bothering anyone. ``to``: the receivers a
    routing config chose (``hitl.core.routing.recipients``); without it, ``route``.
    ``trace``: the trace context the request came with, kept with the interaction."""
    route = request.route or route
    state = InteractionState(
        request=request, status=PENDING, version=1, requested_at=now, route=route, trace=trace
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
    to = to or single(route)
    reached: Mapping[str, int] = _NO_REACHED
    if to.routed:
        timers |= routed_timers(to, to.now, now)
        timers |= {f"{NOTIFY}{r}": at for r, at in to.held}
        timers |= {f"{ESCALATE_AT}{after!r}": now + after for after, _ in to.escalations}
        reached = MappingProxyType(dict.fromkeys(to.now, 1))
    state = replace(state, timers=MappingProxyType(timers), reached=reached)
    requested = Emit(_event(LifecycleEventName.REQUESTED, request, now, state.version))
    if not to.now:  # every receiver waits for its time window: no notification yet
        state = replace(state, notifications=0)
        return _changed(state, state, (requested,))
    *notes, notified = _notify(state, now, NotifyReason.REQUESTED, to.now, 1, routed=to.routed)
    return _changed(state, state, (*notes, requested, notified))


def routed_timers(to: Recipients, receivers: tuple[str, ...], now: float) -> dict[str, float]:
    """The reminder timers of ``receivers``, just notified, whose routes remind."""
    return {f"{REMIND_ONE}{r}": now + to.reminders[r][0] for r in receivers if r in to.reminders}


def answer(state: InteractionState, response: HumanResponse, now: float) -> Transition:
    """Apply an answer. Raises ``InvalidResponse`` / ``NotAllowed`` (state unchanged) or
    ``AlreadyResolved`` (carrying the recorded outcome)."""
    if not state.is_pending:
        assert state.outcome is not None
        raise AlreadyResolved(state.outcome)
    request = state.request
    check_allowed(request, response)
    if state.claim is not None:
        check_claim(state.claim, request.requester.id, response, now)
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


def fire(
    state: InteractionState, purpose: str, now: float, to: Recipients | None = None
) -> Transition | None:
    """A timer fell due. None when there is nothing to do: already finished, not (or no
    longer) due; the caller then puts the timer back at its time or drops it. ``to``: the
    receivers the routing config chooses now, for the timers of routed receivers (the tree is
    evaluated again at each reminder and escalation)."""
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
        everyone = tuple(state.reached) or (state.route,)
        notes = _notify(new, now, NotifyReason.REMINDER, everyone, attempt, bool(state.reached))
        return _changed(state, new, notes)
    if purpose.startswith(ESCALATE):
        step = request.escalation[int(purpose.removeprefix(ESCALATE))]
        del timers[purpose]
        new = replace(
            state, timers=MappingProxyType(timers), notifications=attempt, version=state.version + 1
        )
        notes = _notify(new, now, NotifyReason.ESCALATION, (step.route,), attempt)
        return _changed(state, new, notes)
    if purpose.startswith((NOTIFY, REMIND_ONE, ESCALATE_AT)):
        return fire_routed(state, purpose, now, to or single(state.route))
    return None


def fire_routed(state: InteractionState, purpose: str, now: float, to: Recipients) -> Transition:
    """A routed receiver's timer: its held notification, its route's reminder, or a route's
    escalation step, each checked against the receivers the config chooses now."""
    timers = dict(state.timers)
    del timers[purpose]
    reached = dict(state.reached)
    reason = NotifyReason.REQUESTED
    receivers: tuple[str, ...] = ()
    if purpose.startswith(NOTIFY):
        receiver = purpose.removeprefix(NOTIFY)
        opens = to.held_until(receiver)
        if receiver in to.now:
            receivers = (receiver,)
        elif opens is not None:
            timers[purpose] = opens  # the config now holds it until later
    elif purpose.startswith(REMIND_ONE):
        receiver = purpose.removeprefix(REMIND_ONE)
        every, most = to.reminders.get(receiver, (0.0, 0))
        sent = reached.get(receiver, 0) - 1
        if every and receiver in reached and (most is None or sent < most):
            reason, receivers = NotifyReason.REMINDER, (receiver,)
            if most is None or sent + 1 < most:
                timers[purpose] = now + every
    else:
        after = float(purpose.removeprefix(ESCALATE_AT))
        reason = NotifyReason.ESCALATION
        receivers = tuple(r for r in to.escalation_after(after) if r not in reached)
    if reason != NotifyReason.REMINDER:
        timers |= routed_timers(to, receivers, now)
    for r in receivers:
        reached[r] = reached.get(r, 0) + 1
    attempt = state.notifications + (1 if receivers else 0)
    new = replace(
        state,
        timers=MappingProxyType(timers),
        reached=MappingProxyType(reached),
        notifications=attempt,
        version=state.version + 1,
    )
    if not receivers:
        return _changed(state, new, ())
    return _changed(state, new, _notify(new, now, reason, receivers, attempt, routed=True))


def _notify(
    state: InteractionState,
    now: float,
    reason: NotifyReason,
    routes: tuple[str, ...],
    attempt: int,
    routed: bool = False,
) -> tuple[Command, ...]:
    """A notification per route (or receiver), then one event naming them all."""
    request = state.request
    deadline = _dt(state.deadline) if state.deadline else None
    notes = tuple(
        Notify(
            trusted(
                Notification,
                interaction_id=request.id,
                reason=reason,
                route=route,
                attempt=attempt,
                deadline=deadline,
                request=request,
            ),
            routed,
        )
        for route in routes
    )
    name = _NOTIFY_EVENT[reason]
    event = _event(
        name,
        request,
        now,
        state.version,
        route=routes[0],
        receivers=list(routes) if routed else None,
    )
    return (*notes, Emit(event))


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
        claim=None,
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
    receivers: list[str] | None = None,
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
        receivers=receivers,
    )


@lru_cache(maxsize=64)  # one transition asks for the same instant several times
def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
