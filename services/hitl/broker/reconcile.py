"""Reconciling the store with the store log after Redis came back with less than it had:
read the log back (``adapters/amqp/store_log.py``), compare with what Redis holds
(``core/integrity.py`` plans it), and put back what was published. Every step is a
compare-and-set or a create-if-absent, so running it twice (a take-over, a retry after a
failure half-way) changes nothing the second time. Called by ``broker/integrity.py``.
"""

import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any
from uuid import UUID

import orjson
from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError

from hitl.adapters.redis.store import RedisStore
from hitl.broker.dispatch import settle_all
from hitl.core import integrity
from hitl.core.decoding import decode_request
from hitl.core.machine import InteractionState, open_interaction
from hitl.observability.metrics import Metrics
from hitl.ports import Clock
from hitl_contract import LifecycleEvents
from hitl_contract.wire import EVENT_TYPE, REQUEST_TYPE

MARGIN_SECONDS = 300.0  # the log is read from this long before the restored data ends
_ANY_SIZE = 1 << 31  # a logged request was accepted once: its size is not judged again
_AT_ONCE = 64  # interactions reconciled at a time
ReadLog = Callable[[float | None, Callable[[AbstractIncomingMessage], None]], Awaitable[int]]
AskAgain = Callable[[AbstractIncomingMessage], Awaitable[None]]


class Reconciler:
    def __init__(
        self,
        store: RedisStore,
        metrics: Metrics,
        clock: Clock,
        default_route: str,
        read_log: ReadLog,
        ask_again: AskAgain,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._route = default_route
        self._read_log = read_log
        self._ask_again = ask_again

    async def run(self, report: integrity.Report) -> None:
        """Read the log since ``report.since`` (less a margin), repair, and fill ``report``;
        ``report.complete`` once everything was done. Raises ``HitlError``: try again."""
        logged, requests = await self._read(report)
        known = sorted(set(logged.finals) | logged.requested)
        stored: dict[UUID, InteractionState | None] = {}

        async def load(iid: UUID) -> None:
            stored[iid] = await self._store.load(iid)

        await _each(known, load)
        todo = integrity.plan(logged, stored)
        now = self._clock()

        async def finish(iid: UUID) -> None:
            state = stored[iid]
            assert state is not None
            transition = integrity.restored(state, logged.finals[iid])
            await self._store.commit(transition, state.version, [], now, despite_fence=True)
            self._found(report, integrity.OUTCOME_RESTORED, iid)

        async def remake(iid: UUID) -> None:
            request = decode_request(requests[iid].body, _ANY_SIZE)
            final = logged.finals[iid]
            assert final.outcome is not None
            opened = open_interaction(request, final.outcome.requested_at.timestamp(), self._route)
            await self._store.create(integrity.restored(opened.state, final), [])
            self._found(report, integrity.STATE_RESTORED, iid)

        async def ask_again(iid: UUID) -> None:
            await self._ask_again(requests[iid])
            self._found(report, integrity.REQUEST_RECREATED, iid)

        await _each(todo.finish, finish)
        await _each(todo.remake, remake)
        await _each(todo.ask_again, ask_again)
        for what, ids in (
            (integrity.STATE_LOST, todo.lost),
            (integrity.SECOND_OUTCOME, todo.second),
        ):
            for iid in ids:
                self._found(report, what, iid)
        report.complete = True

    def _found(self, report: integrity.Report, what: str, iid: UUID) -> None:
        """Counted once, even when a try that failed half-way had done it already."""
        if report.add(what, iid):
            self._metrics.store_data_loss.labels(what).inc()

    async def _read(
        self, report: integrity.Report
    ) -> tuple[integrity.Logged, dict[UUID, AbstractIncomingMessage]]:
        """The final events and requests of the store log from before the restored data ends."""
        logged = integrity.Logged()
        requests: dict[UUID, AbstractIncomingMessage] = {}

        def take(message: AbstractIncomingMessage) -> None:
            if message.type == EVENT_TYPE:
                with contextlib.suppress(ValidationError, ValueError):
                    for event in LifecycleEvents.model_validate_json(message.body).events:
                        logged.final(event)
            elif message.type == REQUEST_TYPE:
                with contextlib.suppress(ValueError):
                    iid = UUID(str(orjson.loads(message.body)["id"]))
                    requests.setdefault(iid, message)
                    logged.requested.add(iid)

        since = None if report.since is None else report.since - MARGIN_SECONDS
        report.read = await self._read_log(since, take)
        return logged, requests


async def _each(ids: Sequence[UUID], work: Callable[[UUID], Coroutine[Any, Any, None]]) -> None:
    """``work`` on every id, ``_AT_ONCE`` at a time (their Redis scripts share batches); the
    first failure is raised once all of a group are done."""
    for start in range(0, len(ids), _AT_ONCE):
        await settle_all([work(iid) for iid in ids[start : start + _AT_ONCE]])
