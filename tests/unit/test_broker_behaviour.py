"""The broker's decisions on the in-memory twins of its ports: no servers, milliseconds.

The same cases run on the real RabbitMQ and Redis in tests/integration/test_broker_behaviour.py;
this run is for speed, that one is the evidence.
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from uuid import UUID

import orjson
import pytest

from hitl.adapters.memory import ManualClock, MemoryDelivery, MemorySink, MemoryStore
from hitl.broker.assembly import Broker
from hitl.core.machine import InteractionState
from hitl.errors import TransportError
from hitl.observability.metrics import Metrics
from hitl_contract import InteractionClaim, LifecycleEvent, LifecycleEvents
from hitl_contract.wire import CLAIM_TYPE, EVENT_TYPE, REQUEST_TYPE, RESPONSE_TYPE
from tests import wire_check
from tests.broker_cases import REPLY_TO, BrokerBehaviour, ClaimBehaviour, Json, wait_until
from tests.helpers import answer, raw_request
from tests.servers import test_settings

RECEIPTS = "memory-receipts"


class TwinHarness:
    """Deliveries go straight to the handlers; time moves by hand; the poller runs when a test
    waits, as it would on its own in a running broker."""

    def __init__(self, broker: Broker, sink: MemorySink, clock: ManualClock) -> None:
        self.broker = broker
        self.sink = sink
        self.clock = clock

    async def publish_request(self, body: Json) -> None:
        data = orjson.dumps(body)
        names = self.broker.names
        await self.broker.handlers.on_request(
            MemoryDelivery(data, names.requests, body["kind"], REQUEST_TYPE, body["id"], body["id"])
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
        await self.broker.handlers.on_response(
            MemoryDelivery(
                body,
                self.broker.names.responses,
                str(interaction_id),
                message_type,
                key,
                key,
                RECEIPTS,
            )
        )
        [receipt] = [e for e in self.sink.on("", RECEIPTS) if e.correlation_id == key]
        return orjson.loads(receipt.body)  # type: ignore[no-any-return]

    def notifications(self, interaction_id: UUID) -> list[Json]:
        return self._bodies(self.broker.names.notifications, interaction_id)

    def outcomes(self, interaction_id: UUID) -> list[Json]:
        return self._bodies(self.broker.names.outcomes, interaction_id, REPLY_TO)

    def all_events(self) -> list[LifecycleEvent]:
        batches = [
            e for e in self.sink.on(self.broker.names.events) if e.message_type == EVENT_TYPE
        ]
        return [e for b in batches for e in LifecycleEvents.model_validate_json(b.body).events]

    def events(self, interaction_id: UUID) -> list[str]:
        batches = [
            e for e in self.sink.on(self.broker.names.events) if e.message_type == EVENT_TYPE
        ]
        return [
            event.event
            for batch in batches
            for event in LifecycleEvents.model_validate_json(batch.body).events
            if event.interaction_id == interaction_id
        ]

    def _bodies(self, exchange: str, iid: UUID, key: str | None = None) -> list[Json]:
        found = [orjson.loads(e.body) for e in self.sink.on(exchange, key)]
        return [body for body in found if body["interaction_id"] == str(iid)]

    async def state(self, interaction_id: UUID) -> InteractionState | None:
        return await self.broker.store.load(interaction_id)

    def metric(self, name: str, labels: dict[str, str]) -> float:
        return self.broker.metrics.registry.get_sample_value(name, labels) or 0.0

    async def until(
        self, check: Callable[[], bool | Awaitable[bool]], timeout: float = 5.0
    ) -> None:
        await wait_until(check, self._step, timeout)

    async def _step(self) -> None:
        await self.broker.poller.tick()  # what the running poller would do meanwhile
        await asyncio.sleep(0.001)  # trailing events have a task of their own


@pytest.fixture
async def hitl() -> AsyncIterator[TwinHarness]:
    clock = ManualClock()
    settings = test_settings(f"twin-{uuid.uuid4().hex[:8]}", events_linger_seconds=0.0)
    store = MemoryStore(shards=settings.shards, clock=clock)
    sink = MemorySink()
    broker = Broker.assemble(settings, store=store, sink=sink, clock=clock, metrics=Metrics())
    broker.start()
    yield TwinHarness(broker, sink, clock)
    await broker.send_lingering_events()
    await broker.flush_outbox_deletes()
    for envelope in sink.sent:  # what the broker would have sent, against the published schemas
        wire_check.check_envelope(envelope, where=f"memory sink {envelope.exchange!r}")


class TestOnTwins(BrokerBehaviour, ClaimBehaviour):
    pass


@pytest.mark.parametrize(
    ("message_id", "body", "path"),
    [
        ("abc\ndef", b"{not json", ""),  # its id would break the rejected event's id
        ("x" * 300, b"{not json", ""),
        ("big", json.dumps(raw_request(thread_id=10**30)).encode(), "thread_id"),
    ],
)
async def test_a_bad_request_with_an_awkward_id_or_value_is_refused_not_looped(
    hitl: TwinHarness, message_id: str, body: bytes, path: str
) -> None:
    names = hitl.broker.names
    await hitl.broker.handlers.on_request(
        MemoryDelivery(body, names.requests, "approval", REQUEST_TYPE, message_id)
    )
    [parked] = hitl.sink.on(names.dead_letter)
    assert parked.headers["x-hitl-error-code"] != "internal"
    assert parked.headers["x-hitl-error-path"] == path
    await hitl.until(lambda: "rejected" in [e.event for e in hitl.all_events()])


async def test_a_held_answer_survives_a_failure_when_its_hold_runs_out(hitl: TwinHarness) -> None:
    iid = uuid.uuid4()
    assert (await hitl.answer(iid, "approve"))["result"] == "held"
    hitl.clock.advance(1)  # past the hold (0.5 s in the test settings): the request never came
    hitl.sink.fail_next()  # the dead-letter copy cannot be published this time
    with pytest.raises(TransportError):
        await hitl.broker.poller.tick()
    assert hitl.sink.on(hitl.broker.names.dead_letter) == []
    hitl.clock.advance(3)  # the claim's lease (2 s) runs out: the timer is due again
    await hitl.until(lambda: bool(hitl.sink.on(hitl.broker.names.dead_letter)))
    [parked] = hitl.sink.on(hitl.broker.names.dead_letter)
    assert parked.headers["x-hitl-error-code"] == "unknown_interaction"
    assert await hitl.broker.store.peek_early(iid) == (False, [])  # dropped once handled
