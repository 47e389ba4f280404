"""The load every fault scenario runs under, recorded in a ``History``.

A producer (``HitlClient``) asks ``interactions`` approvals, at most ``in_flight`` of them
without an outcome yet, spread over ``spread`` seconds, trying a publish again (same request,
same id) until RabbitMQ confirms it; a person (``Responder``) approves each one as its
notification arrives. Outcomes are recorded raw (a queue of our own on the outcomes exchange)
and as the SDK hands them over.

Plain ``pytest`` runs each scenario's short version; any marker expression naming ``faults``
(``pytest -m faults``) the long one, with issue 16's figures (``long_run``).
"""

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import aio_pika
import pytest
from redis.asyncio import Redis

from hitl.errors import TransportError
from hitl.sdk import HitlClient, Responder
from hitl_contract import InteractionOutcome, InteractionRequest, Notification
from hitl_contract.wire import Names
from tests.faults.history import History
from tests.faults.test_broker_processes import approvals, eventually, stored, tap
from tests.helpers import answer


def long_run(config: pytest.Config) -> bool:
    """``pytest -m faults`` (or any expression naming it) asks for the long versions."""
    return "faults" in str(config.getoption("markexpr") or "")


@dataclass(frozen=True)
class Load:
    interactions: int
    in_flight: int
    spread: float  # seconds the submissions are spread over (0: as fast as in_flight allows)
    timeout: float = 600.0  # each request's timeout_seconds
    answer: bool = True  # approve each one when notified


@dataclass
class Workload:
    history: History
    client: HitlClient
    responder: Responder
    load: Load
    requests: list[InteractionRequest] = field(default_factory=list)
    notified: dict[UUID, int] = field(default_factory=lambda: defaultdict(int))
    answer_failures: int = 0
    _answered: set[UUID] = field(default_factory=set)
    _slots: asyncio.Semaphore | None = None
    _holding: set[UUID] = field(default_factory=set)

    async def on_outcome(self, outcome: InteractionOutcome) -> None:
        self.history.handed(outcome)
        if outcome.interaction_id in self._holding:
            self._holding.discard(outcome.interaction_id)
            assert self._slots is not None
            self._slots.release()

    async def on_notification(self, body: bytes) -> None:
        note = Notification.model_validate_json(body)
        self.notified[note.interaction_id] += 1
        if not self.load.answer or note.interaction_id in self._answered:
            return
        self._answered.add(note.interaction_id)
        response = answer(note.interaction_id, "approve", who="auto@example.com")
        self.history.answered(note.interaction_id, response.response_id)
        for _ in range(100):  # RabbitMQ may be away: the person clicks again
            try:
                await self.responder.respond(response, timeout=None)
                return
            except TransportError:
                self.answer_failures += 1
                await asyncio.sleep(0.2)

    async def run(self) -> None:
        """Submit every request (each confirmed once), in flight and pace as the load says."""
        load = self.load
        self._slots = asyncio.Semaphore(load.in_flight)
        self.requests = approvals(self.client, load.interactions, timeout_seconds=load.timeout)
        interval = load.spread / load.interactions
        start = time.monotonic()
        submitting: set[asyncio.Task[None]] = set()
        for i, request in enumerate(self.requests):
            await asyncio.sleep(max(0.0, start + i * interval - time.monotonic()))
            await self._slots.acquire()
            self._holding.add(request.id)
            task = asyncio.create_task(self._submit(request))
            submitting.add(task)
            task.add_done_callback(submitting.discard)
        await asyncio.gather(*submitting)

    async def _submit(self, request: InteractionRequest) -> None:
        for _ in range(600):
            try:
                await self.client.submit(request)
            except TransportError as exc:  # not confirmed: nothing owed; try again
                self.history.unconfirmed(request.id, exc)
                await asyncio.sleep(0.2)
            else:
                self.history.confirmed(request.id)
                return
        pytest.fail(f"{request.id} never confirmed")

    async def settled(self, timeout: float) -> None:
        """Wait until every request has been handed an outcome."""
        ids = {r.id for r in self.requests}

        def handed() -> set[UUID]:
            return ids & {op.iid for op in self.history.ops if op.what == "handed"}

        await eventually(
            lambda: len(handed()) == len(ids),
            timeout,
            lambda: f"{len(handed())} of {len(ids)} handed an outcome",
        )

    async def pending_in(self, redis: Redis, namespace: str) -> set[UUID]:
        """Ids the store still holds as pending."""
        states = await stored(redis, namespace, [r.id for r in self.requests])
        return {iid for iid, (status, _) in states.items() if status == "pending"}


@contextlib.asynccontextmanager
async def workload(
    history: History, namespace: str, url: str, load: Load, **connect: Any
) -> AsyncIterator[Workload]:
    """A producer, a person and the raw taps, on RabbitMQ at ``url``."""
    names = Names(namespace)
    handlers: list[Callable[[InteractionOutcome], Any]] = []

    async def on_outcome(outcome: InteractionOutcome) -> None:
        await handlers[0](outcome)

    async def published(body: bytes) -> None:
        history.published(body)

    amqp = await aio_pika.connect_robust(url)
    try:
        async with (
            Responder.connect(url, namespace=namespace) as responder,
            HitlClient.connect(
                url, service="producer", namespace=namespace, on_outcome=on_outcome, **connect
            ) as client,
        ):
            work = Workload(history, client, responder, load)
            handlers.append(work.on_outcome)
            async with (
                tap(amqp, namespace, names.outcomes, "producer", then=published),
                tap(amqp, namespace, names.notifications, "#", then=work.on_notification),
            ):
                yield work
    finally:
        await amqp.close()
