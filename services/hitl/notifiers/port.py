"""The port every channel implements: send a notification to a receiver, and update what was
sent once the interaction is decided. A channel renders and talks to its service; it never
retries, records or falls back itself (the framework does, the same way for every channel)."""

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from hitl.core.routing.config import AnyReceiver
from hitl_contract import Claim, InteractionOutcome, Notification


@dataclass(frozen=True, slots=True)
class Sent:
    """What a successful send left at the receiver."""

    reference: str | None = None  # identifies the message there (Slack ts, Message-ID...)
    detail: str | None = None  # for the delivery record, e.g. "HTTP 204"


class Channel(Protocol):
    """One channel type (``webhook``, ``email``, ``slack``, ``terminal``).

    ``send`` raises ``hitl.errors.Retryable`` (worth trying again: timeouts, 5xx, 429, with
    ``retry_after`` when the receiver said when) or ``hitl.errors.Permanent`` (trying again
    will not help: 4xx, a refused destination, a bad config). Any other exception is a bug
    in the channel; the framework treats it as permanent and logs it."""

    type: str

    async def send(self, receiver: AnyReceiver, notification: Notification) -> Sent: ...

    async def update(self, receiver: AnyReceiver, sent: Sent, outcome: InteractionOutcome) -> None:
        """Make what ``send`` left say that the interaction is settled (who decided, how,
        when), so nobody answers it. Channels that cannot change a sent message do nothing."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class ShowsClaims(Protocol):
    """A channel whose sent messages show who holds a claim (Slack): its notifier also hears
    the ``claimed`` and ``released`` events, and ``show_claim`` re-renders what ``send`` left
    from the interaction as it is now (``claim``: the claim holding, None once released)."""

    async def show_claim(
        self, receiver: AnyReceiver, sent: Sent, notification: Notification, claim: Claim | None
    ) -> None: ...
