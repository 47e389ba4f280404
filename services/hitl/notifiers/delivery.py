"""The delivery pipeline every channel runs through (Alertmanager's notify stages, written
once): skip what is settled or already sent, send with retries, record each attempt, and when
a receiver fails for good hand the notification to its route's fallback receiver, or to the
dead-letter queue with the reason.

Retries: exponential backoff with full jitter (``hitl.core.backoff``), at least what the
receiver asked with Retry-After (capped), ``attempts`` tries in all; ``Permanent`` failures
are not retried, and a receiver that said 410 Gone is disabled until an operator enables it
again (``hitl receivers enable``).
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol
from uuid import UUID

from hitl.core.backoff import backoff_delay
from hitl.core.routing.config import AnyReceiver
from hitl.core.tracecontext import TraceContext
from hitl.errors import ConfigError, Permanent, Retryable
from hitl.notifiers.log import DeliveryLog
from hitl.notifiers.metrics import NotifierMetrics
from hitl.notifiers.port import Channel, Sent
from hitl.notifiers.records import delivery_entry
from hitl.observability.tracing import Tracing, carrying
from hitl.ports import Clock
from hitl_contract import HistoryEvent, Notification

log = logging.getLogger(__name__)
Sleep = Callable[[float], Awaitable[None]]


class Result(StrEnum):
    DELIVERED = "delivered"
    DUPLICATE = "duplicate"  # delivered before (a redelivery, another replica)
    SETTLED = "settled"  # decided meanwhile: nobody needs telling
    FELL_BACK = "fell_back"
    UNDELIVERED = "undelivered"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 5
    base: float = 0.5
    cap: float = 30.0
    longest_retry_after: float = 120.0  # a Retry-After beyond this is waited this long

    def delay(self, attempt: int, retry_after: float | None) -> float:
        wait = backoff_delay(attempt, base=self.base, cap=self.cap)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.longest_retry_after))
        return wait


@dataclass(frozen=True, slots=True)
class Job:
    notification: Notification
    message_id: str
    receiver: AnyReceiver
    fallback: str | None  # the route's fallback receiver, if it has one
    trace: TraceContext | None = None  # the notification's trace context (its AMQP headers)


class Notes(Protocol):
    """Appends to an interaction's history (the store's ``note``)."""

    async def note(self, interaction_id: UUID, entry: bytes) -> bool: ...


class Settled(Protocol):
    async def is_settled(self, interaction_id: UUID) -> bool: ...


class Escape(Protocol):
    """Where a notification goes when its receiver (named) failed for good."""

    async def fallback(self, note: Notification, message_id: str, receiver: str, to: str) -> bool:
        """False when nothing took it (no notifier serves ``to``)."""
        ...

    async def dead_letter(
        self, note: Notification, message_id: str, receiver: str, reason: str
    ) -> None: ...


Late = Callable[["Job", Sent], Awaitable[None]]  # a delivery that ended after the decision


class Deliverer:
    """``late``: called when a notification was delivered but its interaction was decided
    while the delivery was under way (the updates on decision may have run without it)."""

    def __init__(
        self,
        channel: Channel,
        log_: DeliveryLog,
        notes: Notes,
        settled: Settled,
        escape: Escape,
        metrics: NotifierMetrics,
        *,
        policy: RetryPolicy | None = None,
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
        remember_seconds: int = 7 * 24 * 3600,
        late: Late | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self._channel = channel
        self._tracing = tracing or Tracing()
        self._log = log_
        self._notes = notes
        self._settled = settled
        self._escape = escape
        self._metrics = metrics
        self._policy = policy or RetryPolicy()
        self._clock = clock
        self._sleep = sleep
        self._remember = remember_seconds
        self._late = late

    async def deliver(self, job: Job) -> Result:
        """Within a ``hitl deliver`` span (with spans); what is sent carries its context."""
        about = self._about(job) if self._tracing.recording else None
        span = self._tracing.span("hitl deliver", job.trace, "consumer", about)
        with span as trace, carrying(trace):
            result = await self._deliver(job)
        self._metrics.deliveries.labels(self._channel.type, job.receiver.name, result).inc()
        return result

    def _about(self, job: Job) -> dict[str, str]:
        return {
            "hitl.interaction_id": str(job.notification.interaction_id),
            "hitl.channel": self._channel.type,
            "hitl.receiver": job.receiver.name,
        }

    async def _deliver(self, job: Job) -> Result:
        iid = job.notification.interaction_id
        if await self._log.delivered(job.message_id):
            return Result.DUPLICATE
        if await self._settled.is_settled(iid):
            return Result.SETTLED
        disabled = await self._log.disabled(job.receiver.name)
        failure = f"receiver disabled: {disabled}" if disabled else await self._attempts(job)
        if isinstance(failure, Result):
            return failure
        return await self._failed_for_good(job, failure)

    async def _attempts(self, job: Job) -> Result | str:
        """Try up to the policy's attempts: DELIVERED, SETTLED (decided between two tries:
        nobody needs telling any more), else the last failure."""
        failure = "not attempted"
        iid = job.notification.interaction_id
        for attempt in range(1, self._policy.attempts + 1):
            if attempt > 1 and await self._settled.is_settled(iid):
                return Result.SETTLED
            started = self._clock()
            try:
                sent = await self._channel.send(job.receiver, job.notification)
            except Retryable as exc:
                failure = str(exc)
                await self._record_failure(job, attempt, started, failure, "retryable")
                if attempt < self._policy.attempts:
                    await self._sleep(self._policy.delay(attempt, exc.retry_after))
                continue
            except Permanent as exc:
                failure = str(exc)
                await self._record_failure(job, attempt, started, failure, "permanent")
                if exc.disable:
                    await self._log.disable(job.receiver.name, failure)
                    log.warning("receiver %s disabled: %s", job.receiver.name, failure)
                return failure
            except ConfigError as exc:  # a secret that cannot be read, say: an operator's fix
                failure = f"receiver misconfigured: {exc}"
                await self._record_failure(job, attempt, started, failure, "permanent")
                return failure
            except Exception as exc:  # a bug in the channel: never retried, never fatal
                log.exception("channel %s failed on %s", self._channel.type, job.receiver.name)
                failure = f"channel error: {exc!r}"
                await self._record_failure(job, attempt, started, failure, "permanent")
                return failure
            await self._delivered(job, attempt, started, sent)
            if self._late is not None and await self._settled.is_settled(iid):
                await self._late(job, sent)
            return Result.DELIVERED
        return failure

    async def _delivered(self, job: Job, attempt: int, started: float, sent: Sent) -> None:
        latency = self._clock() - started
        self._metrics.attempts.labels(self._channel.type, "ok").inc()
        self._metrics.latency.labels(self._channel.type).observe(latency)
        await self._log.mark_delivered(job.message_id, self._remember)
        await self._record(
            job,
            HistoryEvent.DELIVERED,
            attempt=attempt,
            latency=latency,
            reference=sent.reference,
            detail=sent.detail,
        )

    async def _record_failure(
        self, job: Job, attempt: int, started: float, failure: str, kind: str
    ) -> None:
        self._metrics.attempts.labels(self._channel.type, kind).inc()
        latency = self._clock() - started
        log.info("delivery to %s failed (try %d): %s", job.receiver.name, attempt, failure)
        await self._record(
            job, HistoryEvent.DELIVERY_FAILED, attempt=attempt, latency=latency, detail=failure
        )

    async def _failed_for_good(self, job: Job, failure: str) -> Result:
        fallback = job.fallback
        if fallback is not None and fallback != job.receiver.name:
            if await self._escape.fallback(
                job.notification, job.message_id, job.receiver.name, fallback
            ):
                await self._record(job, HistoryEvent.FELL_BACK, detail=f"to {fallback}: {failure}")
                return Result.FELL_BACK
            failure = f"{failure}; its fallback receiver {fallback!r} has no notifier bound"
        await self._escape.dead_letter(job.notification, job.message_id, job.receiver.name, failure)
        await self._record(job, HistoryEvent.UNDELIVERED, detail=failure)
        log.warning("could not deliver to %s, dead-lettered: %s", job.receiver.name, failure)
        return Result.UNDELIVERED

    async def _record(
        self,
        job: Job,
        event: HistoryEvent,
        *,
        attempt: int | None = None,
        latency: float | None = None,
        reference: str | None = None,
        detail: str | None = None,
    ) -> None:
        entry = delivery_entry(
            event,
            job.receiver.name,
            self._channel.type,
            self._clock(),
            attempt=attempt,
            latency=latency,
            reference=reference,
            detail=detail,
        )
        await self._notes.note(job.notification.interaction_id, entry)
