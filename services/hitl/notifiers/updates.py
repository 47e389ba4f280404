"""Updates on decision: once an interaction is resolved, cancelled or timed out, every receiver
this channel showed it to is told (the Slack message edited, a settled event POSTed to a
webhook...), so nobody answers a settled request. What was shown, and where, comes from the
delivery records in the interaction's history; each update is made once across replicas.

A channel that shows claims (``ShowsClaims``: Slack) is also told when a pending interaction
is claimed or released: its messages are re-rendered from the interaction as stored when the
event is handled, so events handled late or twice still leave the claim that holds now."""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Protocol
from uuid import UUID

from hitl.core.claims import live
from hitl.core.machine import InteractionState
from hitl.core.routing.config import AnyReceiver
from hitl.errors import NotifierError, Permanent, Retryable
from hitl.notifiers.delivery import Notes, RetryPolicy, Sleep
from hitl.notifiers.log import DeliveryLog
from hitl.notifiers.metrics import NotifierMetrics
from hitl.notifiers.port import Channel, Sent, ShowsClaims
from hitl.notifiers.records import delivery_entry
from hitl.ports import Clock
from hitl_contract import (
    HistoryEntry,
    HistoryEvent,
    InteractionOutcome,
    Notification,
    NotifyReason,
)

log = logging.getLogger(__name__)


class History(Protocol):
    async def history(self, interaction_id: UUID) -> list[HistoryEntry]: ...

    async def load(self, interaction_id: UUID) -> InteractionState | None: ...


class Updater:
    def __init__(
        self,
        channel: Channel,
        history: History,
        log_: DeliveryLog,
        notes: Notes,
        receiver: Callable[[str], AnyReceiver | None],
        metrics: NotifierMetrics,
        *,
        policy: RetryPolicy | None = None,
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
        remember_seconds: int = 7 * 24 * 3600,
    ) -> None:
        self._channel = channel
        self._history = history
        self._log = log_
        self._notes = notes
        self._receiver = receiver
        self._metrics = metrics
        self._policy = policy or RetryPolicy(attempts=3)
        self._clock = clock
        self._sleep = sleep
        self._remember = remember_seconds

    async def settled(self, outcome: InteractionOutcome) -> None:
        iid = outcome.interaction_id
        shown = self._shown(await self._history.history(iid))
        await asyncio.gather(*(self.shown(name, sent, outcome) for name, sent in shown.items()))

    async def shown(self, name: str, sent: Sent, outcome: InteractionOutcome) -> None:
        """Update receiver ``name``, shown the interaction as ``sent``, unless done already
        (``settled`` calls it; so does a delivery that ended after the decision)."""
        iid = outcome.interaction_id
        receiver = self._receiver(name)
        key = f"update:{iid}:{name}"
        if receiver is None or await self._log.delivered(key):
            return  # no longer configured, or updated by another replica already
        error = await self._update(receiver, sent, outcome)
        result = "failed" if error else "ok"
        self._metrics.updates.labels(self._channel.type, result).inc()
        if error is None:
            await self._log.mark_delivered(key, self._remember)
        entry = delivery_entry(
            HistoryEvent.UPDATED if error is None else HistoryEvent.DELIVERY_FAILED,
            name,
            self._channel.type,
            self._clock(),
            reference=sent.reference,
            detail=error or f"settled: {outcome.status.value} ({outcome.action})",
        )
        await self._notes.note(iid, entry)

    async def claim_changed(self, interaction_id: UUID) -> None:
        """Re-render what this channel showed of a pending interaction with the claim that
        holds now (after a ``claimed`` or ``released`` event). Not recorded in the history
        (the claim's own entry is); a failure is counted and logged, never retried past the
        policy: the next claim event, or the decision, renders it again."""
        channel = self._channel
        if not isinstance(channel, ShowsClaims):
            return
        state = await self._history.load(interaction_id)
        if state is None or not state.is_pending:
            return  # settled meanwhile: the settled update says how
        shown = self._shown(await self._history.history(interaction_id))
        note = Notification(
            interaction_id=interaction_id,
            reason=NotifyReason.REQUESTED,
            route=state.route,
            attempt=1,
            deadline=_at(state.deadline),
            request=state.request,
        )
        claim = live(state.claim, self._clock())

        async def show(name: str, sent: Sent) -> None:
            receiver = self._receiver(name)
            if receiver is None:
                return
            error = await retrying(
                lambda: channel.show_claim(receiver, sent, note, claim), self._policy, self._sleep
            )
            self._metrics.updates.labels(self._channel.type, "failed" if error else "ok").inc()
            if error is not None:
                log.warning("showing the claim on %s to %s failed: %s", interaction_id, name, error)

        await asyncio.gather(*(show(name, sent) for name, sent in shown.items()))

    def _shown(self, history: list[HistoryEntry]) -> dict[str, Sent]:
        """Receivers of this channel a notification was delivered to, with its reference."""
        shown: dict[str, Sent] = {}
        for h in history:
            mine = h.event == HistoryEvent.DELIVERED and h.channel == self._channel.type
            if mine and h.receiver is not None:
                shown[h.receiver] = Sent(reference=h.reference, detail=h.detail)
        return shown

    async def _update(
        self, receiver: AnyReceiver, sent: Sent, outcome: InteractionOutcome
    ) -> str | None:
        return await retrying(
            lambda: self._channel.update(receiver, sent, outcome), self._policy, self._sleep
        )


async def retrying(
    attempt: Callable[[], Awaitable[None]], policy: RetryPolicy, sleep: Sleep
) -> str | None:
    """Run ``attempt`` until it succeeds (None) or fails for good (the last error)."""
    error = "not attempted"
    for n in range(1, policy.attempts + 1):
        try:
            await attempt()
        except Retryable as exc:
            error = str(exc)
            if n < policy.attempts:
                await sleep(policy.delay(n, exc.retry_after))
        except Permanent as exc:
            return str(exc)
        except NotifierError as exc:
            return str(exc)
        except Exception as exc:  # a channel bug: reported, never fatal
            log.exception("channel update failed")
            return f"channel error: {exc!r}"
        else:
            return None
    return error


def _at(epoch: float | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch is not None else None
