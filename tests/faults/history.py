"""A Jepsen-style history of one fault scenario, and the checker every scenario runs on it.

What is recorded, each with when (``time.monotonic()``):

- ``confirmed``: a request RabbitMQ confirmed to the producer (``HitlClient.submit`` returned):
  from then on hitl owes it exactly one outcome. A publish that failed is ``unconfirmed``
  (nothing is owed; the producer tries again with the same id);
- ``answered``: a response we published for it (its response id);
- ``published``: an outcome as it went over the wire, raw, on a queue of our own bound to the
  outcomes exchange with the producer's routing key (duplicates of a crash show here);
- ``handed``: an outcome as the SDK handed it to the producer's code (``on_outcome``), after
  its dedup.

``check`` then says, over the whole history: confirmed requests without an outcome (lost),
interactions with two different outcomes (raw or handed), outcomes handed twice, interactions
still pending in the store after the grace period (stuck), and outcomes that do not match what
we sent (a resolved one must carry one of our response ids). It also counts the duplicates,
raw and after the SDK's dedup. ``Verdict.assert_clean`` fails the test with the ids.
"""

import time
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from uuid import UUID

from hitl.core.integrity import same_outcome
from hitl_contract import InteractionOutcome


class What(StrEnum):
    CONFIRMED = "confirmed"
    UNCONFIRMED = "unconfirmed"
    ANSWERED = "answered"
    PUBLISHED = "published"
    HANDED = "handed"


@dataclass(frozen=True, slots=True)
class Op:
    at: float
    what: What
    iid: UUID
    outcome: InteractionOutcome | None = None
    response_id: UUID | None = None
    note: str = ""


@dataclass
class History:
    ops: list[Op] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def record(self, op: Op) -> None:
        self.ops.append(op)

    def confirmed(self, iid: UUID) -> None:
        self.record(Op(time.monotonic(), What.CONFIRMED, iid))

    def unconfirmed(self, iid: UUID, error: BaseException) -> None:
        self.record(Op(time.monotonic(), What.UNCONFIRMED, iid, note=repr(error)[:200]))

    def answered(self, iid: UUID, response_id: UUID) -> None:
        self.record(Op(time.monotonic(), What.ANSWERED, iid, response_id=response_id))

    def published(self, body: bytes) -> None:
        outcome = InteractionOutcome.model_validate_json(body)
        self.record(Op(time.monotonic(), What.PUBLISHED, outcome.interaction_id, outcome))

    def handed(self, outcome: InteractionOutcome) -> None:
        self.record(Op(time.monotonic(), What.HANDED, outcome.interaction_id, outcome))

    def ids(self, what: What) -> set[UUID]:
        return {op.iid for op in self.ops if op.what == what}

    def by_id(self, what: What) -> dict[UUID, list[Op]]:
        found: dict[UUID, list[Op]] = defaultdict(list)
        for op in self.ops:
            if op.what == what:
                found[op.iid].append(op)
        return found

    def outcomes_between(self, start: float, end: float) -> int:
        """Outcomes handed to the producer in [start, end): progress while a fault lasted."""
        return sum(1 for op in self.ops if op.what == What.HANDED and start <= op.at < end)

    def first_outcome_after(self, moment: float) -> float | None:
        """Seconds from ``moment`` to the first outcome handed after it (recovery)."""
        after = [op.at for op in self.ops if op.what == What.HANDED and op.at >= moment]
        return min(after) - moment if after else None

    def check(self, pending: Collection[UUID] = (), parked: Collection[UUID] = ()) -> "Verdict":
        """``pending``: ids the store still holds as pending, read after the grace period;
        ``parked``: ids found in the dead-letter queue; those never decided are owed no
        outcome (they are an operator's now), and counted apart."""
        published = self.by_id(What.PUBLISHED)
        handed = self.by_id(What.HANDED)
        asked = self.ids(What.CONFIRMED)
        parked_only = (set(parked) - set(handed)) & asked
        confirmed = asked - parked_only
        ours = {op.response_id for op in self.ops if op.what == What.ANSWERED}
        return Verdict(
            confirmed=len(confirmed),
            parked=len(parked_only),
            attempts_unconfirmed=sum(1 for op in self.ops if op.what == What.UNCONFIRMED),
            lost=sorted(confirmed - set(handed) - set(published)),
            unhanded=sorted(confirmed - set(handed)),
            two_outcomes=sorted(_two_outcomes(published) | _two_outcomes(handed, published)),
            handed_twice=sorted(iid for iid, ops in handed.items() if len(ops) > 1),
            stuck=sorted(set(pending) & confirmed),
            not_ours=sorted(
                iid for iid, ops in handed.items() if any(_foreign(op.outcome, ours) for op in ops)
            ),
            unasked=sorted(set(handed) - asked),
            raw=sum(len(ops) for ops in published.values()),
            raw_duplicates=sum(len(ops) - 1 for ops in published.values()),
            handed_duplicates=sum(len(ops) - 1 for ops in handed.values()),
            statuses=_count(
                ops[0].outcome.status.value for ops in handed.values() if ops[0].outcome
            ),
        )


def _two_outcomes(
    seen: dict[UUID, list[Op]], also: dict[UUID, list[Op]] | None = None
) -> set[UUID]:
    """Ids whose outcomes (here, and in ``also`` for the same id) are not all the same."""
    found = set()
    for iid, ops in seen.items():
        outcomes = [op.outcome for op in ops + (also or {}).get(iid, []) if op.outcome]
        if any(not same_outcome(o, outcomes[0]) for o in outcomes[1:]):
            found.add(iid)
    return found


def _foreign(outcome: InteractionOutcome | None, ours: set[UUID | None]) -> bool:
    """A resolved outcome must carry the id of a response we sent."""
    return (
        outcome is not None
        and outcome.status.value == "resolved"
        and outcome.response_id not in ours
    )


def _count(values: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for value in values:
        counts[value] += 1
    return dict(sorted(counts.items()))


@dataclass(frozen=True)
class Verdict:
    confirmed: int  # and not parked
    parked: int  # confirmed, then dead-lettered, never decided
    attempts_unconfirmed: int
    lost: list[UUID]  # confirmed, and no outcome ever, raw or handed
    unhanded: list[UUID]  # confirmed, and never handed to the producer
    two_outcomes: list[UUID]
    handed_twice: list[UUID]
    stuck: list[UUID]  # still pending in the store after the grace period
    not_ours: list[UUID]  # resolved with a response nobody sent
    unasked: list[UUID]  # an outcome for something never confirmed
    raw: int
    raw_duplicates: int
    handed_duplicates: int
    statuses: dict[str, int]

    def assert_clean(self) -> None:
        wrong = {
            name: ids[:20]
            for name, ids in (
                ("lost", self.lost),
                ("never handed to the producer", self.unhanded),
                ("two different outcomes", self.two_outcomes),
                ("handed twice", self.handed_twice),
                ("stuck pending", self.stuck),
                ("resolved by a response nobody sent", self.not_ours),
                ("outcome of something never confirmed", self.unasked),
            )
            if ids
        }
        assert self.confirmed > 0, "nothing was confirmed: the scenario is void"
        assert not wrong, f"{self.summary()}; wrong: {wrong}"

    def summary(self) -> str:
        return (
            f"{self.confirmed} confirmed ({self.attempts_unconfirmed} publishes unconfirmed, "
            f"tried again; {self.parked} more dead-lettered undecided), outcomes {self.statuses}, lost {len(self.lost)}, two outcomes "
            f"{len(self.two_outcomes)}, stuck {len(self.stuck)}, duplicates raw "
            f"{self.raw_duplicates} of {self.raw} / after the SDK's dedup {self.handed_duplicates}"
        )


def assert_fault_hit(**observed: float) -> None:
    """The fault must have been felt: some redelivery, reconnect or retry observed."""
    assert any(v > 0 for v in observed.values()), f"the fault did not hit anything: {observed}"
