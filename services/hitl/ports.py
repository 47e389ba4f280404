"""The ports: what the broker's logic needs from the world, as Protocols.

The handlers, the committer and the poller are written against these, never against Redis or
RabbitMQ types. Two kinds of adapter implement each port: the real one (``adapters/redis``,
``adapters/amqp``) and an in-memory twin (``adapters/memory``) that is passed in the same way
(never picked by an environment variable), so the broker's decisions can be tested in
milliseconds, and the same behaviour tests then run against the real servers
(``tests/unit/test_broker_behaviour.py``, ``tests/integration/test_broker_behaviour.py``).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from uuid import UUID

from hitl.core.decisions import Answerers
from hitl.core.listing import Page, Position, Query
from hitl.core.machine import InteractionState, Transition
from hitl_contract import HistoryEntry

__all__ = [
    "Backlog", "Clock", "Created", "Delivery", "Envelope", "InteractionReads",
    "InteractionStore", "MessageSink", "Page", "Position", "Query",
]  # fmt: skip

CreateResult = Literal["created", "duplicate", "conflict"]
CommitResult = Literal["ok", "stale", "missing"]
OutboxWrite = tuple[str, bytes]  # (entry id, payload): written in the same step as its state
Headers = Mapping[str, str | int | bool | None]


@dataclass(frozen=True, slots=True)
class Envelope:
    """One outgoing message with the AMQP properties hitl sets, before it becomes frames."""

    exchange: str
    routing_key: str
    body: bytes
    message_type: str
    message_id: str
    correlation_id: str | None = None
    headers: Headers = field(default_factory=dict)
    reply_to: str | None = None
    user_id: str | None = None  # the publishing connection's user; RabbitMQ checks it


@dataclass(frozen=True, slots=True)
class Backlog:
    """What waits in the store, for the gauges: pending interactions, when the oldest of them
    was requested (None when none is pending), and outbox entries not yet published."""

    pending: int
    oldest_requested_at: float | None
    outbox: int


@dataclass(frozen=True, slots=True)
class Created:
    result: CreateResult
    early_answers: tuple[bytes, ...] = ()  # answers held until this request arrived


class Clock(Protocol):
    """Seconds since the epoch, as ``time.time``; a test passes a clock it moves by hand."""

    def __call__(self) -> float: ...


class InteractionReads(Protocol):
    """What a reader (``hitl pending``, ``hitl show``, the gateway) may ask of the store."""

    async def load(self, interaction_id: UUID) -> InteractionState | None:
        """The interaction as last committed; None if never asked or past retention."""
        ...

    async def pending(self, limit: int = 1000) -> list[InteractionState]:
        """The oldest pending interactions, oldest first."""
        ...

    async def answerers(self, interaction_id: UUID) -> Answerers | None:
        """Whether the interaction is pending and who may answer it, read without the rest
        of it (the gateway's check before it sends an answer); None if unknown."""
        ...

    async def query(self, query: Query) -> Page:
        """A page of interactions matching ``query``, in index order from ``query.after``."""
        ...

    async def history(self, interaction_id: UUID) -> list[HistoryEntry]:
        """The interaction's audit history, oldest first; empty when it is unknown."""
        ...

    async def counters(self, hours: Sequence[int]) -> list[dict[str, int]]:
        """The analytics counters of those hours (``hitl.core.analytics``), one map per
        shard and hour."""
        ...

    async def pending_counts(self) -> dict[str, int]:
        """How many interactions are pending, per 'k|kind', 'n|node' and 'r|responder'."""
        ...


class InteractionStore(InteractionReads, Protocol):
    """Interaction state, deadlines, held early answers and the outbox. Every write is atomic
    per interaction: a state change and its outbox entries are committed together or not at
    all, and ``commit`` is a compare-and-set on the version, so replicas never both decide."""

    def shard(self, interaction_id: UUID) -> int:
        """The partition an interaction's keys live in (outbox entries are grouped by it)."""
        ...

    async def create(
        self,
        transition: Transition,
        outbox: Sequence[OutboxWrite],
        request_json: bytes | None = None,
    ) -> Created:
        """Store a new interaction unless its id exists: ``duplicate`` for the same request
        again, ``conflict`` for another request under the same id."""
        ...

    async def commit(
        self,
        transition: Transition,
        expected_version: int,
        outbox: Sequence[OutboxWrite],
        now: float,
        outcome_json: bytes | None = None,
    ) -> CommitResult:
        """Apply ``transition`` if the stored version is still ``expected_version``."""
        ...

    async def note(self, interaction_id: UUID, entry: bytes) -> bool:
        """Append an entry (JSON, ``hitl.core.audit``) to the history of an interaction that
        did not change (a refused or late answer); False if the interaction is gone."""
        ...

    async def hold_early(
        self, interaction_id: UUID, answer: bytes, hold_seconds: float, now: float
    ) -> bool:
        """Keep an answer until its request arrives; False if the interaction exists by now."""
        ...

    async def peek_early(self, interaction_id: UUID) -> tuple[bool, list[bytes]]:
        """Held answers, left in place, and whether their interaction exists."""
        ...

    async def take_early(self, interaction_id: UUID) -> tuple[bool, list[bytes]]:
        """Held answers (dropped from the store), and whether their interaction exists."""
        ...

    async def claim_due(self, now: float, lease_until: float, limit: int) -> list[str]:
        """Deadline members due by ``now``, leased to the caller until ``lease_until``."""
        ...

    async def claim_outbox(
        self, now: float, lease_until: float, limit: int
    ) -> list[tuple[int, str, bytes]]:
        """Outbox entries their writer did not publish in time: (shard, entry id, payload)."""
        ...

    async def outbox_done_many(self, published: dict[int, list[str]]) -> None:
        """Delete published outbox entries, by shard."""
        ...

    async def reschedule(self, interaction_id: UUID, member: str, at: float | None) -> None:
        """Move a deadline to ``at``, or drop it (None)."""
        ...

    async def trim_done(self, before: float) -> int:
        """Forget the index entries of interactions finished before ``before``; how many."""
        ...

    async def backlog(self) -> Backlog:
        """Pending interactions, the oldest one's request time and the outbox size, over
        every shard (one round trip)."""
        ...


class MessageSink(Protocol):
    """Where outgoing messages go: RabbitMQ with publisher confirms, or a recording twin. Each
    call returns once the messages are confirmed, saying per message whether it was routed."""

    async def publish(self, envelope: Envelope, *, mandatory: bool = True) -> bool: ...

    async def publish_batch(self, batch: list[tuple[Envelope, bool]]) -> list[bool]:
        """(envelope, mandatory) pairs, sent together; a failure fails the whole batch."""
        ...


class Delivery(Protocol):
    """An incoming message as the handlers read it. An aio-pika ``IncomingMessage`` is one;
    the runtime acks it once its handler returned (the effect is committed by then)."""

    @property
    def body(self) -> bytes: ...
    @property
    def exchange(self) -> str | None: ...
    @property
    def routing_key(self) -> str | None: ...
    @property
    def type(self) -> str | None: ...
    @property
    def message_id(self) -> str | None: ...
    @property
    def correlation_id(self) -> str | None: ...
    @property
    def reply_to(self) -> str | None: ...
    @property
    def headers(self) -> Mapping[str, Any]: ...
    @property
    def user_id(self) -> str | None:
        """The AMQP user that published it, as RabbitMQ validated it (None if not set)."""
        ...
