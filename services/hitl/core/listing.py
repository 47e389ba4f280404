"""Listing interactions: the query, its pages, which read index serves it, and which
interactions match it. Pure: the Redis store and its in-memory twin both use these, so they
list the same interactions in the same order.

Every index is ordered by (requested_at, interaction id), so a position in one is a position
in any, and pages continue where the last one stopped however the filters are served.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

from hitl.core.indexing import ANYONE, KIND, NODE, REQUESTER, RESPONDER, THREAD
from hitl.core.machine import PENDING, InteractionState
from hitl_contract import Identity
from hitl_contract.kinds import GROUP_PREFIX

STATUSES = (PENDING, "resolved", "cancelled", "timed_out")


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """A place in a read index: every index is ordered by (requested_at, interaction id)."""

    at: float
    id: str


@dataclass(frozen=True, slots=True)
class Query:
    """Which interactions to list. Every filter given must hold. The store reads the most
    selective index among thread, waiting_for, node, requester, kind and status, and checks
    the other filters (and labels) on the interactions it reads, reading at most
    ``scan_limit`` of them for one page; a page may then be short, with a ``next`` to go on."""

    status: str | None = None  # pending, resolved, cancelled, timed_out; None: any
    kind: str | None = None
    thread_id: str | None = None
    requester: str | None = None
    node: str | None = None
    waiting_for: tuple[str, ...] | None = None  # ids and group:names allowed to answer (pending)
    labels: Mapping[str, str] = field(default_factory=dict)
    newest_first: bool = True
    limit: int = 50
    after: Position | None = None
    scan_limit: int = 1000


@dataclass(frozen=True, slots=True)
class Page:
    items: list[InteractionState]
    next: Position | None  # where the next page starts; None at the end


def statuses(query: Query) -> tuple[str, ...]:
    if query.waiting_for is not None:
        return (PENDING,) if query.status in (None, PENDING) else ()
    return STATUSES if query.status is None else (query.status,)


def index_for(query: Query) -> tuple[str | None, list[str]]:
    """The most selective index for ``query``: (dimension, values to read the union of), or
    (None, []) for the status index alone."""
    if query.thread_id is not None:
        return THREAD, [query.thread_id]
    if query.waiting_for is not None:
        return RESPONDER, [*query.waiting_for, ANYONE]
    if query.node is not None:
        return NODE, [query.node]
    if query.requester is not None:
        return REQUESTER, [query.requester]
    if query.kind is not None:
        return KIND, [query.kind]
    return None, []


def matches(state: InteractionState, query: Query) -> bool:
    """Whether ``state`` (as read now) fits every filter of ``query``."""
    request = state.request
    if query.status is not None and state.status != query.status:
        return False
    if query.waiting_for is not None and not (
        state.is_pending and _waits_for(request.responders, query.waiting_for)
    ):
        return False
    wanted = (
        (query.kind, request.kind),
        (query.thread_id, request.thread_id),
        (query.requester, request.requester.id),
        (query.node, request.node_name),
    )
    if any(want is not None and want != have for want, have in wanted):
        return False
    return all(request.labels.get(k) == v for k, v in query.labels.items())


def _waits_for(responders: list[str] | None, who: tuple[str, ...]) -> bool:
    """``who``: index values (an id and ``group:`` names), as ``waiting_for_identity`` gives."""
    return responders is None or any(w in responders for w in who)


def position_of(state: InteractionState) -> Position:
    return Position(state.requested_at, str(state.request.id))


def after(position: Position, other: Position, newest_first: bool) -> bool:
    """Whether ``other`` comes after ``position`` in the listing's order."""
    return other < position if newest_first else other > position


def waiting_for_identity(who: Identity) -> tuple[str, ...]:
    """The index values under which ``who`` finds what waits for them: their id and groups."""
    return (who.id, *(f"{GROUP_PREFIX}{g}" for g in who.groups))
