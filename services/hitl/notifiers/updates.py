"""Updates on decision: once an interaction is resolved, cancelled or timed out, every receiver
this channel showed it to is told (the Slack message edited, a settled event POSTed to a
webhook...), so nobody answers a settled request. What was shown, and where, comes from the
delivery records in the interaction's history; each update is made once across replicas."""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol
from uuid import UUID

from hitl.core.routing.config import AnyReceiver
from hitl.errors import NotifierError, Permanent, Retryable
from hitl.notifiers.delivery import Notes, RetryPolicy, Sleep
from hitl.notifiers.log import DeliveryLog
from hitl.notifiers.metrics import NotifierMetrics
from hitl.notifiers.port import Channel, Sent
from hitl.notifiers.records import delivery_entry
from hitl.ports import Clock
from hitl_contract import HistoryEntry, HistoryEvent, InteractionOutcome

log = logging.getLogger(__name__)


class History(Protocol):
    async def history(self, interaction_id: UUID) -> list[HistoryEntry]: ...


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
