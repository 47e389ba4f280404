"""The deadline poller and outbox relay: one loop, one Redis round trip per tick for each.

Timers (timeouts, reminders, escalations, early-answer holds) and stranded outbox entries are
claimed atomically with a lease (``claim.lua``), so with several broker processes each is handled
by one of them; if that one dies, the lease runs out and another takes it. A timer fires only
when the interaction's state says it is due, and the compare-and-set commit makes a second
firing a no-op. The cost of a tick depends on how many items are due, not on how many
interactions are pending.
"""

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from uuid import UUID

from hitl.broker.answers import AnswerApplier
from hitl.broker.committer import Committer
from hitl.broker.dispatch import Dispatcher, settle_all
from hitl.broker.outbound import OutboxEntry, UnreadableEntry
from hitl.core.machine import (
    EARLY,
    ESCALATE_AT,
    NOTIFY,
    REMIND_ONE,
    fire,
    parse_deadline_member,
)
from hitl.errors import HitlError
from hitl.observability.logs import interaction_context
from hitl.observability.metrics import Metrics
from hitl.ports import Clock, InteractionStore
from hitl.runtime.routing import Router

log = logging.getLogger(__name__)
_BATCH = 500
_CAS_ATTEMPTS = 4
_GAUGE_EVERY = 2.0
_TRIM_EVERY = 60.0


class Poller:
    def __init__(
        self,
        store: InteractionStore,
        committer: Committer,
        answers: AnswerApplier,
        dispatcher: Dispatcher,
        metrics: Metrics,
        clock: Clock,
        router: Router,
        *,
        interval: float,
        lease: float,
        retention_seconds: int,
    ) -> None:
        self._store = store
        self._committer = committer
        self._answers = answers
        self._dispatcher = dispatcher
        self._metrics = metrics
        self._clock = clock
        self._router = router
        self._interval = interval
        self._lease = lease
        self._retention = retention_seconds
        self._next_gauge = 0.0
        self._next_trim = 0.0
        # Asked at each tick whether timers may fire now (False while the store is fenced
        # after a possible loss of Redis data: broker/integrity.py); None: always.
        self.gate: Callable[[float], Awaitable[bool]] | None = None

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                busy = await self.tick()
            except HitlError as exc:
                log.warning("poller tick failed, retrying: %s", exc)
                busy = False
            except Exception:  # a bug or corrupt data: keep timers running for everyone else
                log.exception("poller tick failed unexpectedly, retrying")
                busy = False
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._interval)

    async def tick(self) -> bool:
        """One pass; True when a batch was full and the next pass should come at once."""
        now = self._clock()
        fire_timers = self.gate is None or await self.gate(now)
        due = await self._store.claim_due(now, now + self._lease, _BATCH) if fire_timers else []
        await settle_all([self._fire(member) for member in due])
        stranded = await self._store.claim_outbox(now, now + self._lease, _BATCH)
        await self._relay(stranded)
        await self._housekeeping(now)
        return len(due) >= _BATCH or len(stranded) >= _BATCH

    async def _fire(self, member: str) -> None:
        iid, purpose = parse_deadline_member(member)
        interaction_id = UUID(iid)
        if purpose == EARLY:
            await self._answers.expire_held(interaction_id)
            return
        for _ in range(_CAS_ATTEMPTS):  # another timer of it, fired alongside, may win first
            state = await self._store.load(interaction_id)
            if state is None or not state.is_pending:
                await self._store.reschedule(interaction_id, member, None)
                return
            with interaction_context(iid, state.request.thread_id):
                now = self._clock()
                routed = purpose.startswith((NOTIFY, REMIND_ONE, ESCALATE_AT))
                to = self._router.to(state.request, now) if routed else None
                transition = fire(state, purpose, now, to)
                if transition is None:  # not due by the state (early claim, or moved): back
                    await self._store.reschedule(interaction_id, member, state.timers.get(purpose))
                    return
                if await self._committer.commit(state, transition, now):
                    log.debug("timer %s fired", purpose)
                    return
        # still losing to others: the timer's lease brings it back

    async def _relay(self, stranded: list[tuple[int, str, bytes]]) -> None:
        by_shard: dict[int, list[OutboxEntry]] = defaultdict(list)
        for shard, entry_id, payload in stranded:
            try:
                by_shard[shard].append(OutboxEntry.decode(entry_id, payload))
            except UnreadableEntry as exc:  # never block the others behind it
                log.exception("parking an unreadable outbox entry %s", entry_id)
                await self._dispatcher.discard(shard, entry_id, payload, str(exc))
        for shard, entries in by_shard.items():
            await self._dispatcher.dispatch(shard, entries)
            count = sum(len(entry.messages) for entry in entries)
            self._metrics.relayed.inc(count)
            log.info("relayed %d outbox messages their writer did not publish", count)

    async def _housekeeping(self, now: float) -> None:
        if now >= self._next_gauge:
            self._metrics.observe_backlog(await self._store.backlog(), now)
            self._next_gauge = now + _GAUGE_EVERY
        if now >= self._next_trim:
            await self._store.trim_done(now - self._retention)
            self._next_trim = now + _TRIM_EVERY
