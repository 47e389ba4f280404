"""What the person-facing commands need from hitl, whichever way they reach it: through the
gateway's REST API (``http.py``, a key is all a person needs) or straight on RabbitMQ and
Redis (``direct.py``, as services do). Both give the gateway's models, so the commands print
the same thing either way."""

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from uuid import UUID

from hitl.core.stats import StatsReport
from hitl.gateway.models import AnswerResult, ClaimResult, InteractionDetail, InteractionPage
from hitl_contract import JsonObject, LifecycleEvent


@dataclass(frozen=True, slots=True)
class Listing:
    """Which interactions ``hitl pending`` lists: every filter given must hold."""

    status: str | None = "pending"
    kind: str | None = None
    thread_id: str | None = None
    requester: str | None = None
    node: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    mine: bool = False  # waiting for me: my identity (or one of my groups) may answer
    newest_first: bool = False
    limit: int = 50
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which lifecycle events ``hitl watch`` shows: every filter given must hold."""

    events: frozenset[str] = frozenset()
    kind: str | None = None
    thread_id: str | None = None
    interaction_id: UUID | None = None

    def wants(self, event: LifecycleEvent) -> bool:
        return (
            (not self.events or event.event.value in self.events)
            and (self.kind is None or event.kind == self.kind)
            and (self.thread_id is None or event.thread_id == self.thread_id)
            and (self.interaction_id is None or event.interaction_id == self.interaction_id)
        )


@dataclass(frozen=True, slots=True)
class Window:
    """The analytics window of ``hitl stats``."""

    window: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    top: int = 5


class Backend(Protocol):
    """hitl as a person's commands see it. Failures are ``hitl.cli.errors`` (``Unknown``,
    ``Refused``, ``AlreadyDecided``, ``NotAllowed``, ``Unreachable``, ``Usage``)."""

    @property
    def where(self) -> str:
        """Where the answers go, for messages: the gateway's URL or the servers'."""
        ...

    async def page(self, listing: Listing) -> InteractionPage: ...

    async def detail(self, interaction_id: UUID) -> InteractionDetail | None:
        """The interaction with its history; None when there is no such interaction."""
        ...

    async def answer(
        self, interaction_id: UUID, action: str, data: JsonObject, *, hold: bool = False
    ) -> AnswerResult:
        """Answer as the person; with ``hold``, an unknown id is sent anyway (the broker holds
        it for its request) instead of being an error."""
        ...

    async def cancel(self, interaction_id: UUID, reason: str | None) -> AnswerResult: ...

    async def claim(
        self, interaction_id: UUID, *, ttl_seconds: int | None = None, team: str | None = None
    ) -> ClaimResult:
        """Claim (or renew one's claim on) a pending interaction, for ``team`` when given;
        ``ClaimedByOther`` when someone else holds it."""
        ...

    async def release(self, interaction_id: UUID, *, admin: bool = False) -> ClaimResult:
        """Release the claim on it: one's own, or (``admin``, straight on the servers)
        anyone's; through the gateway an admin key releases anyone's."""
        ...

    def events(
        self, wanted: EventFilter, ready: Callable[[], None] | None = None
    ) -> AsyncIterator[LifecycleEvent]:
        """Lifecycle events from now on, as they happen, until the caller stops; ``ready`` is
        called once the subscription is in place (nothing published after it is missed)."""
        ...

    async def stats(self, window: Window) -> StatsReport: ...
