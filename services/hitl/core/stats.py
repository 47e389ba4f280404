"""The analytics report of ``GET /v1/stats`` and ``hitl stats``: the window a caller asks
for, and the report built from the counters of its hours (``hitl.core.analytics``).

Counters are kept per hour, so a window counts whole hours: from the start of the hour
``since`` falls in to the end of the hour before ``until`` (the report says which). Pending
counts are the running totals of now, whatever the window.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, Field

from hitl.core import analytics
from hitl.core.analytics import HOUR, KIND, NODE, RESPONDER, GroupStats

DEFAULT_WINDOW = "24h"
DEFAULT_TOP = 5
WINDOW_PATTERN = r"^[1-9][0-9]{0,5}[mhdw]$"
_UNITS = {"m": 60, "h": HOUR, "d": 24 * HOUR, "w": 7 * 24 * HOUR}


class WindowError(ValueError):
    """A window the counters cannot answer; ``field`` names the parameter at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Window:
    since: float
    until: float

    @property
    def hours(self) -> list[int]:
        return analytics.hours(self.since, self.until)


def parse_duration(text: str) -> int:
    """Seconds in ``30m``, ``24h``, ``7d`` or ``2w``."""
    if not re.fullmatch(WINDOW_PATTERN, text):
        raise WindowError("window", f"window {text!r} is not a duration such as 24h, 7d or 90m")
    return int(text[:-1]) * _UNITS[text[-1]]


def resolve_window(
    now: float,
    retention_seconds: int,
    *,
    window: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Window:
    """The window to count: ``window`` (default 24h) back from ``until`` (default now), or
    ``since`` to ``until``. An ``until`` in the future means now. It must start within the
    counters' retention."""
    if window is not None and since is not None:
        raise WindowError("since", "give window or since, not both")
    end = min(_seconds(until), now) if until is not None else now
    start = end - parse_duration(window or DEFAULT_WINDOW) if since is None else _seconds(since)
    if start >= end:
        raise WindowError("since", "the window is empty: since must be before until and now")
    oldest = now - retention_seconds
    if start < oldest:
        raise WindowError(
            "since" if since is not None else "window",
            f"the counters go back {retention_seconds}s (HITL_ANALYTICS_RETENTION_SECONDS): "
            f"the window must start after {_iso(oldest)}",
        )
    return Window(start, end)


def _seconds(at: datetime) -> float:
    """A timestamp without a zone is taken as UTC."""
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat()


# --- the report ---------------------------------------------------------------------------


class GroupReport(BaseModel):
    """One kind or node (or everything) over the window."""

    count: int = Field(description="Requests made in the window.")
    finished: int = Field(description="Interactions that finished in the window.")
    resolved: int
    cancelled: int
    timed_out: int
    pending: int = Field(description="Waiting now, whatever the window.")
    approval_rate: float | None = Field(
        description="Of those resolved, the share approved (approve or proceed)."
    )
    timeout_rate: float | None = Field(description="Of those finished, the share timed out.")
    cancel_rate: float | None = Field(description="Of those finished, the share cancelled.")
    response_time_p50_seconds: float | None = Field(
        description="Median time from request to a person's decision, to the bounds of the "
        "counters' response time buckets."
    )
    response_time_p95_seconds: float | None


class ResponderReport(BaseModel):
    """One responder (a person, a ``group:`` name, or ``*`` for anyone) over the window."""

    answers: int = Field(description="Answers given in the window.")
    pending: int = Field(description="Interactions waiting for them now.")
    response_time_p50_seconds: float | None
    response_time_p95_seconds: float | None


class PendingLoad(BaseModel):
    name: str
    pending: int


class SlowAnswers(BaseModel):
    name: str
    response_time_p95_seconds: float
    response_time_p50_seconds: float
    answers: int = Field(description="How many answers these times are from.")


class Bottlenecks(BaseModel):
    """Where interactions pile up or wait longest, worst first."""

    most_pending_nodes: list[PendingLoad]
    most_pending_responders: list[PendingLoad]
    slowest_nodes: list[SlowAnswers]
    slowest_responders: list[SlowAnswers]


class StatsReport(BaseModel):
    """Seed 001's InteractionAnalytics, from the counters the broker keeps as it goes."""

    since: datetime = Field(description="The window asked for, from...")
    until: datetime = Field(description="...to.")
    counted_since: datetime = Field(
        description="Counters are kept per hour: the hours counted, from the start of the first..."
    )
    counted_until: datetime = Field(description="...to the end of the last (maybe still open).")
    total: GroupReport
    by_kind: dict[str, GroupReport]
    by_node: dict[str, GroupReport]
    by_responder: dict[str, ResponderReport]
    bottlenecks: Bottlenecks


def report(
    window: Window,
    counters: Iterable[Mapping[str, int]],
    pending: Mapping[str, int],
    top: int = DEFAULT_TOP,
) -> StatsReport:
    """The report of the counter hashes of ``window.hours`` (every shard) and the pending
    counts now, with the ``top`` worst of each bottleneck."""
    groups = analytics.aggregate(counters, pending)
    kinds, nodes, responders = (dict(groups.get(d, {})) for d in (KIND, NODE, RESPONDER))
    hours = window.hours
    return StatsReport(
        since=_at(window.since),
        until=_at(window.until),
        counted_since=_at(hours[0]),
        counted_until=_at(hours[-1] + HOUR),
        total=_group(combined(kinds.values())),  # every interaction has exactly one kind
        by_kind={name: _group(s) for name, s in sorted(kinds.items())},
        by_node={name: _group(s) for name, s in sorted(nodes.items())},
        by_responder={name: _responder(s) for name, s in sorted(responders.items())},
        bottlenecks=Bottlenecks(
            most_pending_nodes=_most_pending(nodes, top),
            most_pending_responders=_most_pending(responders, top),
            slowest_nodes=_slowest(nodes, top),
            slowest_responders=_slowest(responders, top),
        ),
    )


def combined(groups: Iterable[GroupStats]) -> GroupStats:
    total = GroupStats()
    for g in groups:
        total.requested += g.requested
        total.resolved += g.resolved
        total.cancelled += g.cancelled
        total.timed_out += g.timed_out
        total.approved += g.approved
        total.answers += g.answers
        total.pending += g.pending
        total.times = [a + b for a, b in zip(total.times, g.times, strict=True)]
    return total


def _group(stats: GroupStats) -> GroupReport:
    return GroupReport.model_validate(stats.summary())


def _responder(stats: GroupStats) -> ResponderReport:
    return ResponderReport(
        answers=stats.answers,
        pending=stats.pending,
        response_time_p50_seconds=stats.percentile(0.5),
        response_time_p95_seconds=stats.percentile(0.95),
    )


def _most_pending(groups: Mapping[str, GroupStats], top: int) -> list[PendingLoad]:
    loaded = sorted((-s.pending, name) for name, s in groups.items() if s.pending > 0)
    return [PendingLoad(name=name, pending=-count) for count, name in loaded[:top]]


def _slowest(groups: Mapping[str, GroupStats], top: int) -> list[SlowAnswers]:
    timed = []
    for name, s in groups.items():
        p95, p50 = s.percentile(0.95), s.percentile(0.5)
        if p95 is not None and p50 is not None:
            timed.append(
                SlowAnswers(
                    name=name,
                    response_time_p95_seconds=p95,
                    response_time_p50_seconds=p50,
                    answers=sum(s.times),
                )
            )
    timed.sort(key=lambda a: (-a.response_time_p95_seconds, -a.response_time_p50_seconds, a.name))
    return timed[:top]


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
