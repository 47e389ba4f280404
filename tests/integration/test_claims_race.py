"""Two brokers on the real RabbitMQ and Redis, racing claims: many people claim the same
interaction at once, their claims shared out between the two brokers by RabbitMQ; exactly one
claim holds, every other one is refused naming that holder, and the history says so once."""

import asyncio
from collections.abc import AsyncIterator
from uuid import UUID

import aio_pika
import orjson
import pytest
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from hitl.broker.service import BrokerService
from hitl.settings import Settings
from hitl_contract import Identity, InteractionClaim
from hitl_contract.wire import CLAIM_TYPE, Names
from tests.helpers import publish_raw, raw_request

PEOPLE = 12
ROUNDS = 4


@pytest.fixture
async def second_broker(broker: BrokerService, settings: Settings) -> AsyncIterator[BrokerService]:
    service = BrokerService(settings)
    await service.start()
    yield service
    await service.stop()


async def test_of_claims_racing_on_two_brokers_exactly_one_holds(
    broker: BrokerService,
    second_broker: BrokerService,
    amqp: AbstractRobustConnection,
    settings: Settings,
) -> None:
    names = Names(settings.namespace)
    channel = await amqp.channel()
    receipts: dict[str, dict[str, object]] = {}
    arrived = asyncio.Event()

    async def on_receipt(message: AbstractIncomingMessage) -> None:
        receipts[message.correlation_id or ""] = orjson.loads(message.body)
        arrived.set()

    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    await queue.consume(on_receipt, no_ack=True)
    store = broker.broker.store if broker.broker is not None else None
    assert store is not None
    for _ in range(ROUNDS):
        body = raw_request()
        iid = UUID(body["id"])
        await publish_raw(amqp, names.requests, orjson.dumps(body), "approval", type="hitl.request")
        async with asyncio.timeout(20):
            while await store.load(iid) is None:
                await asyncio.sleep(0.02)
        claims = [
            InteractionClaim(interaction_id=iid, by=Identity(id=f"person-{n}"))
            for n in range(PEOPLE)
        ]
        await asyncio.gather(
            *(
                publish_raw(
                    amqp,
                    names.responses,
                    c.model_dump_json().encode(),
                    str(iid),
                    message_id=str(c.claim_id),
                    correlation_id=str(c.claim_id),
                    reply_to=queue.name,
                    type=CLAIM_TYPE,
                )
                for c in claims
            )
        )
        keys = [str(c.claim_id) for c in claims]
        async with asyncio.timeout(30):
            while not all(k in receipts for k in keys):
                arrived.clear()
                await arrived.wait()
        got = [receipts[k] for k in keys]
        accepted = [r for r in got if r["result"] == "accepted"]
        assert len(accepted) == 1, got
        holder = accepted[0]["claim"]["holder"]["id"]  # type: ignore[index]
        refused = [r for r in got if r["result"] == "rejected"]
        assert len(refused) == PEOPLE - 1
        assert {r["error"]["code"] for r in refused} == {"claimed"}  # type: ignore[index]
        assert {r["claim"]["holder"]["id"] for r in refused} == {holder}  # type: ignore[index]
        state = await store.load(iid)
        assert state is not None and state.claim is not None and state.claim.holder.id == holder
        history = await store.history(iid)
        assert [h.by.id for h in history if h.event == "claimed" and h.by] == [holder]
    await channel.close()


async def test_both_brokers_took_part(broker: BrokerService, second_broker: BrokerService) -> None:
    # The race above needs two consumers on the responses queue.
    amqp_url = broker.settings.amqp_url
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        channel = await connection.channel()
        names = Names(broker.settings.namespace)
        queue = await channel.declare_queue(names.responses_queue, passive=True)
        assert queue.declaration_result.consumer_count == 2
    finally:
        await connection.close()
