"""The broker's decisions on the real RabbitMQ and Redis: the cases of tests/broker_cases.py,
which also run on the in-memory twins (tests/unit/test_broker_behaviour.py).

Requests and answers are published to the broker's exchanges as any producer would; what it
sends back is read from queues bound to its exchanges. Time is a clock the test moves, passed
to the broker process's parts, so timeouts fire without waiting for them.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from uuid import UUID

import aio_pika
import orjson
import pytest
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from hitl.adapters.memory import ManualClock
from hitl.broker.service import BrokerService
from hitl.core.machine import InteractionState
from hitl_contract import InteractionClaim, LifecycleEvents
from hitl_contract.wire import CLAIM_TYPE, RESPONSE_TYPE, Names
from tests import wire_check
from tests.broker_cases import REPLY_TO, BrokerBehaviour, ClaimBehaviour, Json, wait_until
from tests.helpers import answer, publish_raw
from tests.servers import test_settings


class ServerHarness:
    def __init__(
        self, broker: BrokerService, amqp: AbstractRobustConnection, clock: ManualClock
    ) -> None:
        self.broker = broker
        self.amqp = amqp
        self.clock = clock
        self.names = Names(broker.settings.namespace)
        self.received: dict[str, list[AbstractIncomingMessage]] = {}
        self._arrived = asyncio.Event()
        self._receipts = ""

    async def listen(self, channel: aio_pika.abc.AbstractChannel) -> None:
        """Queues bound to what the broker sends; receipts to an exclusive reply queue."""
        for label, exchange, key in (
            ("notifications", self.names.notifications, "#"),
            ("outcomes", self.names.outcomes, REPLY_TO),
            ("events", self.names.events, "#"),
        ):
            queue = await channel.declare_queue(exclusive=True, auto_delete=True)
            await queue.bind(exchange, key)
            await queue.consume(self._collector(label), no_ack=True)
        receipts = await channel.declare_queue(exclusive=True, auto_delete=True)
        await receipts.consume(self._collector("receipts"), no_ack=True)
        self._receipts = receipts.name

    def _collector(self, label: str) -> Callable[[AbstractIncomingMessage], Awaitable[None]]:
        async def collect(message: AbstractIncomingMessage) -> None:
            wire_check.check(message, where=label)
            self.received.setdefault(label, []).append(message)
            self._arrived.set()

        return collect

    async def publish_request(self, body: Json) -> None:
        await publish_raw(
            self.amqp,
            self.names.requests,
            orjson.dumps(body),
            body["kind"],
            message_id=body["id"],
            correlation_id=body["id"],
            type="hitl.request",
        )

    async def answer(
        self, interaction_id: UUID, action: str, data: Json | None = None, who: str = "alice"
    ) -> Json:
        response = answer(interaction_id, action, data, who)
        body = response.model_dump_json().encode()
        return await self._send(interaction_id, body, str(response.response_id), RESPONSE_TYPE)

    async def claim(self, claim: InteractionClaim) -> Json:
        body = claim.model_dump_json().encode()
        return await self._send(claim.interaction_id, body, str(claim.claim_id), CLAIM_TYPE)

    async def _send(self, interaction_id: UUID, body: bytes, key: str, message_type: str) -> Json:
        await publish_raw(
            self.amqp,
            self.names.responses,
            body,
            str(interaction_id),
            message_id=key,
            correlation_id=key,
            reply_to=self._receipts,
            type=message_type,
        )

        def mine() -> list[AbstractIncomingMessage]:
            return [m for m in self.received.get("receipts", []) if m.correlation_id == key]

        await self.until(lambda: bool(mine()))
        return orjson.loads(mine()[0].body)  # type: ignore[no-any-return]

    def notifications(self, interaction_id: UUID) -> list[Json]:
        return self._bodies("notifications", interaction_id)

    def outcomes(self, interaction_id: UUID) -> list[Json]:
        return self._bodies("outcomes", interaction_id)

    def events(self, interaction_id: UUID) -> list[str]:
        return [
            event.event
            for m in self.received.get("events", [])
            for event in LifecycleEvents.model_validate_json(m.body).events
            if event.interaction_id == interaction_id
        ]

    def _bodies(self, label: str, iid: UUID) -> list[Json]:
        bodies = [orjson.loads(m.body) for m in self.received.get(label, [])]
        return [b for b in bodies if b["interaction_id"] == str(iid)]

    async def state(self, interaction_id: UUID) -> InteractionState | None:
        assert self.broker.store is not None
        return await self.broker.store.load(interaction_id)

    def metric(self, name: str, labels: dict[str, str]) -> float:
        return self.broker.metrics.registry.get_sample_value(name, labels) or 0.0

    async def until(
        self, check: Callable[[], bool | Awaitable[bool]], timeout: float = 10.0
    ) -> None:
        await wait_until(check, self._next_message, timeout)

    async def _next_message(self) -> None:
        self._arrived.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.05):  # the broker's poller runs every 50 ms
                await self._arrived.wait()


@pytest.fixture(params=[True, False], ids=["fast-path", "aio-pika-only"])
async def hitl(
    request: pytest.FixtureRequest, namespace: str, amqp: AbstractRobustConnection
) -> AsyncIterator[Any]:
    """The broker as shipped, and with ``HITL_AMQP_FAST_PATH=false`` (aio-pika's public API)."""
    clock = ManualClock()
    settings = test_settings(namespace, amqp_fast_path=request.param)
    broker = BrokerService(settings, clock=clock)
    await broker.start()
    channel = await amqp.channel()
    harness = ServerHarness(broker, amqp, clock)
    try:
        await harness.listen(channel)
        yield harness
    finally:
        await channel.close()
        await broker.stop()


class TestOnServers(BrokerBehaviour, ClaimBehaviour):
    pass
