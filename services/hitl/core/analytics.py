"""Seed 001's InteractionAnalytics, from counters kept as transitions happen.

The store adds these counters in the same atomic step as the transition (so several brokers
count each interaction once) into one hash per shard and hour, and keeps a running count of
what is pending per kind, node and responder. This module decides which counters a transition
adds, and turns summed counters into the report; it does no I/O.

Counter fields are ``<metric>|<dimension>|<value>``: dimension ``k`` (kind), ``n`` (node) or
``r`` (responder); metrics ``requested``, ``resolved``, ``cancelled``, ``timed_out``,
``approved`` (resolved with approve or proceed), ``rt<b>`` (an answer given within response
time bucket b, see ``BUCKETS``) and ``answers`` (answers given, for responders).
"""

import bisect
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from hitl.core.indexing import waiting_for
from hitl.core.machine import Emit, InteractionState, Transition
from hitl_contract import LifecycleEventName

# Upper bounds (seconds) of the response time buckets; the last one is open.
BUCKETS = (
    1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 43200, 86400, 172800, 604800,
)  # fmt: skip
APPROVING = frozenset({"approve", "proceed"})
PERSON_DECIDED = frozenset({"person", "requester", "responders"})
HOUR = 3600
KIND, NODE, RESPONDER = "k", "n", "r"

Counters = dict[str, int]


def bucket_of(seconds: float) -> int:
    return bisect.bisect_left(BUCKETS, seconds)


def _dims(state: InteractionState) -> list[tuple[str, str]]:
    request = state.request
    dims: list[tuple[str, str]] = [(KIND, request.kind)]
    if request.node_name:
        dims.append((NODE, request.node_name))
    return dims


def pending_fields(state: InteractionState) -> list[str]:
    """The running pending counts an interaction adds to while it waits."""
    return [f"{d}|{v}" for d, v in _dims(state)] + [
        f"{RESPONDER}|{who}" for who in waiting_for(state.request)
    ]


def on_create(state: InteractionState) -> Counters:
    """Counters for the hour the request arrived."""
    return {f"requested|{d}|{v}": 1 for d, v in _dims(state)}


def on_commit(transition: Transition, now: float) -> Counters:
    """Counters for the hour of ``now``: answers given, and the outcome if it finished."""
    state = transition.state
    out: Counters = {}
    waited = now - state.requested_at
    if transition.response is not None and _responded(transition):
        who = transition.response.responder.id
        out[f"answers|{RESPONDER}|{who}"] = 1
        out[f"rt{bucket_of(waited)}|{RESPONDER}|{who}"] = 1
    outcome = state.outcome
    if outcome is None:
        return out
    for d, v in _dims(state):
        out[f"{outcome.status.value}|{d}|{v}"] = 1
        if outcome.status == "resolved" and outcome.action in APPROVING:
            out[f"approved|{d}|{v}"] = 1
        if outcome.decided_by.type in PERSON_DECIDED:
            out[f"rt{bucket_of(waited)}|{d}|{v}"] = 1
    return out


def _responded(transition: Transition) -> bool:
    return any(
        isinstance(c, Emit) and c.event.event == LifecycleEventName.RESPONDED
        for c in transition.commands
    )


def hour_of(at: float) -> int:
    return int(at // HOUR) * HOUR


def hours(start: float, end: float) -> list[int]:
    """The hour buckets a window [start, end) touches: those that begin before ``end``."""
    return list(range(hour_of(start), math.ceil(end), HOUR)) if end > start else []


# --- the report ---------------------------------------------------------------------------


@dataclass
class GroupStats:
    """One kind, node or responder over the window."""

    requested: int = 0
    resolved: int = 0
    cancelled: int = 0
    timed_out: int = 0
    approved: int = 0
    answers: int = 0
    pending: int = 0
    times: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))

    @property
    def finished(self) -> int:
        return self.resolved + self.cancelled + self.timed_out

    def rate(self, part: int) -> float | None:
        return round(part / self.finished, 4) if self.finished else None

    def percentile(self, q: float) -> float | None:
        """The response time below which ``q`` of the answers fell, interpolated inside its
        bucket (so exact to the bucket's bounds)."""
        total = sum(self.times)
        if not total:
            return None
        rank = q * total
        seen = 0
        for b, n in enumerate(self.times):
            if n and seen + n >= rank:
                low = BUCKETS[b - 1] if b > 0 else 0
                high = BUCKETS[b] if b < len(BUCKETS) else BUCKETS[-1] * 2
                return round(low + (high - low) * (rank - seen) / n, 3)
            seen += n
        return None  # pragma: no cover - rank <= total always lands in a bucket

    def summary(self) -> dict[str, object]:
        return {
            "count": self.requested,
            "finished": self.finished,
            "resolved": self.resolved,
            "cancelled": self.cancelled,
            "timed_out": self.timed_out,
            "pending": self.pending,
            "approval_rate": round(self.approved / self.resolved, 4) if self.resolved else None,
            "timeout_rate": self.rate(self.timed_out),
            "cancel_rate": self.rate(self.cancelled),
            "response_time_p50_seconds": self.percentile(0.5),
            "response_time_p95_seconds": self.percentile(0.95),
        }


def aggregate(
    counters: Iterable[Mapping[str, int]], pending: Mapping[str, int]
) -> dict[str, dict[str, GroupStats]]:
    """Sum counter hashes (of every shard and hour in the window) and the pending counts into
    {dimension: {value: GroupStats}}."""
    groups: dict[str, dict[str, GroupStats]] = defaultdict(lambda: defaultdict(GroupStats))
    for hash_ in counters:
        for name, count in hash_.items():
            metric, _, rest = name.partition("|")
            dim, _, value = rest.partition("|")
            stats = groups[dim][value]
            if metric.startswith("rt"):
                stats.times[int(metric[2:])] += count
            elif metric in {"requested", "resolved", "cancelled", "timed_out", "approved"}:
                setattr(stats, metric, getattr(stats, metric) + count)
            elif metric == "answers":
                stats.answers += count
    for name, count in pending.items():
        dim, _, value = name.partition("|")
        if count > 0:
            groups[dim][value].pending += count
    return groups
