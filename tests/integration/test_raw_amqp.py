"""hitl from a producer that knows only AMQP and JSON, as docs/contract.md describes it.

The producer and responder paths here use aio_pika and plain dicts only (no SDK, no contract
models): if the broker needs anything the contract does not say, these tests fail. The
JavaScript producer of docs/contract.md runs in tests/docs/test_contract_js.py.
"""

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection

from hitl.broker.service import BrokerService
from hitl.sdk import HitlClient
from hitl_contract import KIND_NAMES
from hitl_contract.wire import DEAD_LETTER_HEADERS  # only to check the published contract
from tests import wire_check
from tests.servers import AMQP_URL

SERVICE = "raw-producer"  # conftest deletes this reply queue after each test
ALICE = {"id": "alice@example.com", "display_name": "Alice", "service": None}


# --- a producer with nothing but aio_pika ---------------------------------------------------


class RawProducer:
    def __init__(self, channel: AbstractChannel, namespace: str) -> None:
        self.channel = channel
        self.namespace = namespace
        self.outcomes: asyncio.Queue[tuple[AbstractIncomingMessage, dict[str, Any]]] = (
            asyncio.Queue()
        )

    async def declare_reply_queue(self) -> None:
        ns = self.namespace
        queue = await self.channel.declare_queue(
            f"{ns}.reply.{SERVICE}",
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-dead-letter-exchange": f"{ns}.dlx",
                "x-delivery-limit": 5,
            },
        )
        await queue.bind(f"{ns}.outcomes", routing_key=SERVICE)
        await queue.consume(self._receive)

    async def _receive(self, message: AbstractIncomingMessage) -> None:
        async with message.process():
            wire_check.check(message, where="raw producer's reply queue")
            await self.outcomes.put((message, json.loads(message.body)))

    async def ask(self, request: dict[str, Any]) -> None:
        """Persistent, mandatory, confirmed: returns once RabbitMQ routed and stored it."""
        exchange = await self.channel.get_exchange(f"{self.namespace}.requests", ensure=False)
        await exchange.publish(
            aio_pika.Message(
                json.dumps(request).encode(),
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                type="hitl.request",
                message_id=request["id"],
                correlation_id=request["id"],
            ),
            routing_key=request["kind"],
            mandatory=True,
        )

    async def outcome(
        self, timeout: float = 15.0
    ) -> tuple[AbstractIncomingMessage, dict[str, Any]]:
        return await asyncio.wait_for(self.outcomes.get(), timeout)


@contextlib.asynccontextmanager
async def raw_producer(
    amqp: AbstractRobustConnection, namespace: str
) -> AsyncIterator[RawProducer]:
    # on_return_raises: an unroutable (returned) request fails the publish loudly.
    channel = await amqp.channel(publisher_confirms=True, on_return_raises=True)
    producer = RawProducer(channel, namespace)
    await producer.declare_reply_queue()
    try:
        yield producer
    finally:
        await channel.close()


def approval_request(**fields: Any) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "kind": "approval",
        "id": str(uuid.uuid4()),
        "thread_id": "invoice-run-42",
        "prompt": "Pay invoice INV-1042 (500.00 EUR) to ACME GmbH?",
        "context": {"invoice": "INV-1042", "amount": "500.00"},
        "timeout_seconds": 3600,
        "on_timeout": {"action": "reject", "data": {"reason": "nobody answered"}},
        "reply_to": SERVICE,
        "requester": {"id": SERVICE, "service": SERVICE},
        "resume_state": {"step": 3},
        **fields,
    }


# --- a notifier bot / responder with nothing but aio_pika -----------------------------------


class RawResponder:
    """Reads notifications like a notifier bot and answers on ``<ns>.responses``."""

    def __init__(self, channel: AbstractChannel, namespace: str, receipts_queue: str) -> None:
        self.channel = channel
        self.namespace = namespace
        self.receipts_queue = receipts_queue
        self.notifications: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.receipts: dict[str, asyncio.Future[dict[str, Any]]] = {}

    async def _on_notification(self, message: AbstractIncomingMessage) -> None:
        wire_check.check(message, where="raw responder's notifications")
        await self.notifications.put(json.loads(message.body))

    async def _on_receipt(self, message: AbstractIncomingMessage) -> None:
        wire_check.check(message, where="raw responder's receipts")
        future = self.receipts.get(message.correlation_id or "")
        if future is not None and not future.done():
            future.set_result(json.loads(message.body))

    async def next_notification(self, timeout: float = 15.0) -> dict[str, Any]:
        return await asyncio.wait_for(self.notifications.get(), timeout)

    async def respond(
        self,
        interaction_id: str,
        action: str,
        data: dict[str, Any],
        responder: dict[str, Any],
        timeout: float = 15.0,
    ) -> dict[str, Any]:
        """Publish a raw answer and return the broker's receipt for it."""
        response_id = str(uuid.uuid4())
        response = {
            "schema_version": 1,
            "interaction_id": interaction_id,
            "response_id": response_id,
            "action": action,
            "data": data,
            "responder": responder,
            "channel": "slack",
        }
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.receipts[response_id] = future
        exchange = await self.channel.get_exchange(f"{self.namespace}.responses", ensure=False)
        await exchange.publish(
            aio_pika.Message(
                json.dumps(response).encode(),
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                type="hitl.response",
                message_id=response_id,
                correlation_id=response_id,
                reply_to=self.receipts_queue,
            ),
            routing_key=interaction_id,
            mandatory=True,
        )
        receipt = await asyncio.wait_for(future, timeout)
        assert receipt["response_id"] == response_id
        return receipt


@contextlib.asynccontextmanager
async def raw_responder(
    amqp: AbstractRobustConnection, namespace: str
) -> AsyncIterator[RawResponder]:
    channel = await amqp.channel(publisher_confirms=True, on_return_raises=True)
    receipts = await channel.declare_queue(exclusive=True, auto_delete=True)
    notes = await channel.declare_queue(exclusive=True, auto_delete=True)
    await notes.bind(f"{namespace}.notifications", routing_key="#")
    responder = RawResponder(channel, namespace, receipts.name)
    await receipts.consume(responder._on_receipt, no_ack=True)
    await notes.consume(responder._on_notification, no_ack=True)
    try:
        yield responder
    finally:
        await channel.close()


# --- tests ----------------------------------------------------------------------------------


async def test_raw_producer_asks_and_receives_the_outcome(
    broker: BrokerService, namespace: str, amqp: AbstractRobustConnection
) -> None:
    request = approval_request()
    iid = request["id"]
    async with raw_producer(amqp, namespace) as producer, raw_responder(amqp, namespace) as bot:
        await producer.ask(request)
        note = await bot.next_notification()
        assert note["interaction_id"] == iid
        assert note["request"]["prompt"] == request["prompt"]
        assert note["reason"] == "requested"
        receipt = await bot.respond(iid, "approve", {"reason": "within budget"}, ALICE)
        assert receipt["result"] == "accepted", receipt
        message, outcome = await producer.outcome()

    assert message.correlation_id == iid
    assert message.message_id == f"outcome:{iid}"
    assert message.type == "hitl.outcome"
    assert message.content_type == "application/json"
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert message.routing_key == SERVICE
    requested_at = datetime.fromisoformat(outcome.pop("requested_at"))
    resolved_at = datetime.fromisoformat(outcome.pop("resolved_at"))
    assert requested_at <= resolved_at
    assert outcome == {
        "schema_version": 1,
        "interaction_id": iid,
        "thread_id": "invoice-run-42",
        "kind": "approval",
        "status": "resolved",
        "action": "approve",
        "data": {"reason": "within budget"},
        "decided_by": {
            "type": "person",
            "identity": {**ALICE, "groups": []},
            "channel": "slack",
            "policy": None,
        },
        "response_id": receipt["response_id"],
        "votes": [],
        "resume_state": {"step": 3},
    }
    assert receipt["outcome"] == {
        **outcome,
        "requested_at": receipt["outcome"]["requested_at"],
        "resolved_at": receipt["outcome"]["resolved_at"],
    }


@pytest.mark.parametrize(
    ("fields", "action", "data", "responder", "expected"),
    [
        pytest.param(
            {"kind": "choice", "options": ["Production", "Staging", "Development"]},
            "choose",
            {"choice": "Staging", "justification": "test first"},
            ALICE,
            {
                "status": "resolved",
                "action": "choose",
                "decided_by": "person",
                "data": {"choice": 2, "value": "Staging", "justification": "test first"},
            },
            id="choice-by-value",
        ),
        pytest.param(
            {"kind": "text_input", "max_length": 100},
            "respond",
            {"text": "Add rate limiting."},
            ALICE,
            {
                "status": "resolved",
                "action": "respond",
                "decided_by": "person",
                "data": {"text": "Add rate limiting."},
            },
            id="text-input",
        ),
        pytest.param(
            {},
            "cancel",
            {"reason": "no longer needed"},
            {"id": SERVICE, "service": SERVICE},
            {
                "status": "cancelled",
                "action": "cancel",
                "decided_by": "requester",
                "data": {"reason": "no longer needed"},
            },
            id="cancel-by-requester",
        ),
    ],
)
async def test_raw_producer_every_kind(
    broker: BrokerService,
    namespace: str,
    amqp: AbstractRobustConnection,
    fields: dict[str, Any],
    action: str,
    data: dict[str, Any],
    responder: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    request = approval_request(**fields)
    if request["kind"] != "approval":
        request["on_timeout"] = {"action": "timeout", "data": {}}
    async with raw_producer(amqp, namespace) as producer, raw_responder(amqp, namespace) as bot:
        await producer.ask(request)
        note = await bot.next_notification()
        assert note["request"]["kind"] == request["kind"]
        receipt = await bot.respond(request["id"], action, data, responder)
        assert receipt["result"] == "accepted", receipt
        message, outcome = await producer.outcome()
    assert message.correlation_id == request["id"]
    assert message.message_id == f"outcome:{request['id']}"
    got = {
        "status": outcome["status"],
        "action": outcome["action"],
        "data": outcome["data"],
        "decided_by": outcome["decided_by"]["type"],
    }
    assert got == expected
    assert outcome["kind"] == request["kind"]


async def test_raw_reply_queue_matches_what_the_sdk_declares(
    broker: BrokerService, namespace: str, amqp: AbstractRobustConnection
) -> None:
    """The documented queue arguments are the SDK's: redeclaring must not fail."""
    async with (
        raw_producer(amqp, namespace),
        HitlClient.connect(AMQP_URL, service=SERVICE, namespace=namespace) as client,
    ):
        assert client.reply_to == SERVICE


async def test_refused_request_is_dead_lettered_with_the_documented_headers(
    broker: BrokerService, namespace: str, amqp: AbstractRobustConnection
) -> None:
    request = approval_request(kind="poll")
    async with raw_producer(amqp, namespace) as producer:
        await producer.ask(request)
    channel = await amqp.channel()
    try:
        queue = await channel.get_queue(f"{namespace}.dead-letter", ensure=False)
        message = None
        for _ in range(200):
            message = await queue.get(no_ack=True, fail=False)
            if message is not None:
                break
            await asyncio.sleep(0.05)
        assert message is not None, "nothing was dead-lettered"
    finally:
        await channel.close()
    headers = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in message.headers.items()}
    ours = {name for name in headers if name.startswith(("x-hitl-", "x-original-"))}
    assert ours == {name for name, _always, _meaning in DEAD_LETTER_HEADERS}
    assert headers["x-hitl-error-code"] == "unknown_kind"
    assert headers["x-hitl-error-path"] == "kind"
    assert json.loads(str(headers["x-hitl-error-allowed"])) == list(KIND_NAMES)
    assert json.loads(str(headers["x-hitl-error-got"])) == "poll"
    assert headers["x-hitl-source"] == "requests"
    assert headers["x-original-exchange"] == f"{namespace}.requests"
    assert headers["x-original-routing-key"] == "poll"
    datetime.fromisoformat(str(headers["x-hitl-rejected-at"]))
    assert message.routing_key == "requests"
    assert json.loads(message.body) == request
    assert message.message_id == request["id"]
    assert message.correlation_id == request["id"]
    assert message.type == "hitl.request"
