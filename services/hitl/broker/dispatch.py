"""Publishing committed outbox entries, then deleting them from the outbox.

The writer of a transition dispatches its own entry at once; the poller's relay dispatches
those whose writer died first. Either way: publish with confirms, then delete, so a crash in
between means a republish (same message and event ids), never a loss. Deletes are batched by a
janitor every 50 ms, off the ack path: one Redis round trip for many entries (well inside the
outbox lease, after which the relay would publish them again).
"""

import asyncio
import contextlib
import functools
import logging
from collections import defaultdict
from collections.abc import Coroutine, Sequence
from typing import Any

from hitl.broker.dead_letters import DeadLetters
from hitl.broker.outbound import OutboxEntry, OutboxMessage
from hitl.broker.sending import Sender
from hitl.errors import TransportError
from hitl.observability.metrics import Metrics
from hitl.ports import Envelope, InteractionStore
from hitl.runtime.coalescer import mark_retrieved
from hitl_contract import ErrorCode, ErrorDetail
from hitl_contract.wire import OUTBOX_ENTRY_TYPE

log = logging.getLogger(__name__)


async def settle_all(work: list[Coroutine[Any, Any, None]]) -> None:
    """Run all to completion, then raise the first failure. Unlike a bare gather, nothing is
    left running behind a failure: a half-finished publish must not race the relay."""
    results = await asyncio.gather(*work, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


class OutboxJanitor:
    """Deletes published outbox entries in batches. An entry it has not deleted yet when the
    process dies is published again by the relay, with the same message id: never lost."""

    def __init__(self, store: InteractionStore, *, interval: float = 0.05) -> None:
        self._store = store
        self._interval = interval
        self._published: dict[int, list[str]] = defaultdict(list)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="hitl-outbox-janitor")

    def published(self, shard: int, entry_ids: list[str]) -> None:
        self._published[shard].extend(entry_ids)
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()

    async def flush(self) -> None:
        batch, self._published = self._published, defaultdict(list)
        if not batch:
            return
        try:
            await self._store.outbox_done_many(batch)
        except TransportError as exc:
            count = sum(map(len, batch.values()))
            log.warning(
                "outbox cleanup failed; the relay will republish %d messages: %s", count, exc
            )

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(self._interval)  # let a batch gather
            self._wake.clear()
            await self.flush()


class Dispatcher:
    def __init__(
        self,
        sender: Sender,
        janitor: OutboxJanitor,
        dead_letters: DeadLetters,
        metrics: Metrics,
    ) -> None:
        self._sender = sender
        self._janitor = janitor
        self._dead_letters = dead_letters
        self._metrics = metrics

    async def dispatch(self, shard: int, entries: Sequence[OutboxEntry]) -> None:
        """Returns once the notifications and outcomes are confirmed (and any unroutable one
        parked); the entries are deleted once their events are confirmed too."""
        messages = [m for entry in entries for m in entry.messages]
        sent, events = await self._sender.send_all(messages)
        direct = [m for m in messages if not m.event]
        unroutable = [m for m, routed in zip(direct, sent, strict=True) if routed is False]
        try:
            await settle_all([self._unroutable(m) for m in unroutable])
        except BaseException:
            events.add_done_callback(mark_retrieved)  # the entries stay: the relay sends them again
            raise
        for outcome in sent:
            if isinstance(outcome, BaseException):
                raise outcome  # the events were not sent: the relay sends them with it
        entry_ids = [entry.entry_id for entry in entries]
        events.add_done_callback(functools.partial(self._events_sent, shard, entry_ids))

    def _events_sent(
        self, shard: int, entry_ids: list[str], events: "asyncio.Future[None]"
    ) -> None:
        if events.cancelled() or events.exception() is not None:
            return  # logged by the sender; the relay sends the entries again after their lease
        self._janitor.published(shard, entry_ids)

    async def discard(self, shard: int, entry_id: str, payload: bytes, problem: str) -> None:
        """An outbox entry nobody can read: park its bytes where an operator will look, then
        delete it, so that the relay does not trip over it on every pass."""
        detail = ErrorDetail(code=ErrorCode.INTERNAL, message=problem[:500])
        envelope = Envelope("outbox", entry_id, payload, OUTBOX_ENTRY_TYPE, f"outbox:{entry_id}")
        await self._dead_letters.park(envelope, detail, "outbox")
        self._janitor.published(shard, [entry_id])

    async def _unroutable(self, message: OutboxMessage) -> None:
        e = message.envelope
        self._metrics.unroutable.labels(e.exchange).inc()
        if message.critical:
            # Nobody is bound to receive it: park a copy where an operator will look.
            detail = ErrorDetail(
                code=ErrorCode.UNROUTABLE,
                message=f"no queue is bound to {e.exchange!r} with key {e.routing_key!r}",
                path="reply_to",
                got=e.routing_key,
            )
            await self._dead_letters.park(e, detail, "unroutable")
