"""Reconciling the store with the log of what was published, after Redis came back with less
than it had (``hitl.adapters.redis.integrity`` detects it; ``hitl.broker.integrity`` acts).

The log (a RabbitMQ stream, ``hitl.adapters.amqp.store_log``) holds every request as producers
published it and every final lifecycle event (resolved, cancelled, timed out) with its outcome.
An outcome in the log was published: whatever Redis says now, that is the interaction's one
outcome. Pure: the caller reads the log and the store, this module says what to do.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from uuid import UUID

import orjson

from hitl.core.machine import Emit, InteractionState, Transition, deadline_member
from hitl_contract import InteractionOutcome, LifecycleEvent

# What ``Report`` counts, as the ``found`` label of hitl_store_data_loss_total.
OUTCOME_RESTORED = "outcome_restored"  # pending again in Redis: given its published outcome
STATE_RESTORED = "state_restored"  # gone from Redis: made again, finished, from the log
REQUEST_RECREATED = "request_recreated"  # gone from Redis, no outcome yet: asked again
STATE_LOST = "state_lost"  # gone, its outcome was delivered, its request is not in the log
SECOND_OUTCOME = "second_outcome"  # Redis holds another outcome than the one published
FOUND = (OUTCOME_RESTORED, STATE_RESTORED, REQUEST_RECREATED, STATE_LOST, SECOND_OUTCOME)
_LISTED = 1000  # ids kept per list in a report


def same_outcome(a: InteractionOutcome, b: InteractionOutcome) -> bool:
    """The same decision (a republished outcome may differ in nothing else either)."""
    return (a.status, a.action, a.data, a.response_id) == (
        b.status,
        b.action,
        b.data,
        b.response_id,
    )


def restored(state: InteractionState, final: LifecycleEvent) -> Transition:
    """``state`` finished with the outcome its final event published. Sends nothing (the
    outcome went out already); the event is recorded in the history."""
    outcome = final.outcome
    assert outcome is not None, "a final event carries its outcome"
    iid = state.request.id
    new = replace(
        state,
        status=outcome.status.value,
        version=state.version + 1,
        outcome=outcome,
        timers=MappingProxyType({}),
    )
    unschedule = tuple(deadline_member(iid, name) for name in state.timers)
    return Transition(new, (Emit(final),), unschedule=unschedule)


@dataclass
class Logged:
    """What the log holds since a moment: final events by interaction (the first of each;
    a later different one is a second outcome already published) and the ids of requests."""

    finals: dict[UUID, LifecycleEvent] = field(default_factory=dict)
    second: dict[UUID, LifecycleEvent] = field(default_factory=dict)
    requested: set[UUID] = field(default_factory=set)

    def final(self, event: LifecycleEvent) -> None:
        iid = event.interaction_id
        if iid is None or event.outcome is None:
            return
        first = self.finals.setdefault(iid, event)
        assert first.outcome is not None
        if not same_outcome(first.outcome, event.outcome):
            self.second.setdefault(iid, event)


@dataclass(frozen=True, slots=True)
class Plan:
    """What the reconciliation does with each interaction in the log."""

    finish: tuple[UUID, ...]  # pending in Redis, finished in the log: commit the logged outcome
    remake: tuple[UUID, ...]  # gone from Redis, finished in the log, request logged
    ask_again: tuple[UUID, ...]  # gone from Redis, only the request logged
    lost: tuple[UUID, ...]  # gone, finished in the log, request not logged (older, or none)
    second: tuple[UUID, ...]  # finished in Redis with another outcome than the logged one


def plan(logged: Logged, stored: Mapping[UUID, InteractionState | None]) -> Plan:
    """``stored``: the state in Redis now of every id in ``logged`` (None: gone)."""
    finish: list[UUID] = []
    remake: list[UUID] = []
    lost: list[UUID] = []
    second: list[UUID] = []
    for iid, event in logged.finals.items():
        state = stored.get(iid)
        assert event.outcome is not None
        if state is None:
            (remake if iid in logged.requested else lost).append(iid)
        elif state.is_pending:
            finish.append(iid)
        elif state.outcome is not None and not same_outcome(state.outcome, event.outcome):
            second.append(iid)
    second += [iid for iid in logged.second if iid not in second]
    ask = [iid for iid in logged.requested if iid not in logged.finals and stored.get(iid) is None]
    return Plan(*(tuple(sorted(ids)) for ids in (finish, remake, ask, lost, second)))


@dataclass
class Report:
    """What a reconciliation found and did, for the log, the metrics, the integrity record
    and the event."""

    run_id: str
    since: float | None
    read: int = 0  # log messages read
    losses: list[dict[str, object]] = field(default_factory=list)  # Loss, as dicts
    found: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in FOUND})
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FOUND, 0))
    complete: bool = False  # the whole log since ``since`` was read and applied
    seconds: float = 0.0  # how long the reconciliation took, tries included
    _seen: set[tuple[str, UUID]] = field(default_factory=set, repr=False)

    def add(self, what: str, iid: UUID) -> bool:
        """Count ``iid`` under ``what``; False when it was counted already."""
        if (what, iid) in self._seen:
            return False
        self._seen.add((what, iid))
        self.counts[what] += 1
        if len(self.found[what]) < _LISTED:
            self.found[what].append(str(iid))
        return True

    @property
    def lost_anything(self) -> bool:
        return bool(self.losses) or any(self.counts.values())

    def summary(self) -> str:
        parts = [f"{n} {what}" for what, n in self.counts.items() if n]
        gap = sum(int(str(loss["seen"])) - int(str(loss["found"])) for loss in self.losses)
        if gap:
            parts.insert(0, f"at least {gap} committed transitions gone")
        return ", ".join(parts) or "nothing lost"

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "run_id": self.run_id,
                "since": self.since,
                "read": self.read,
                "complete": self.complete,
                "seconds": round(self.seconds, 3),
                "losses": self.losses,
                "counts": self.counts,
                "ids": {k: v for k, v in self.found.items() if v},
            }
        )
