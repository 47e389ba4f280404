"""The Sender's order of work (pure logic over a recording publisher; the flow and relay tests
cover the same path against RabbitMQ): a transition's notifications and outcomes are
confirmed before its events are written, events merge per routing key, and a transition whose
direct messages failed keeps its events for the relay."""

import asyncio
from typing import cast

import orjson
import pytest

from hitl.adapters.amqp.publisher import Envelope, Publisher
from hitl.broker.outbound import EVENT_TYPE, OutboxMessage
from hitl.broker.sending import Sender
from hitl.errors import TransportError


class RecordingPublisher:
    def __init__(self, *, fail_direct: bool = False) -> None:
        self.writes: list[list[tuple[Envelope, bool]]] = []
        self.fail_direct = fail_direct

    async def publish_batch(self, batch: list[tuple[Envelope, bool]]) -> list[bool]:
        self.writes.append(batch)
        await asyncio.sleep(0.01)  # the confirms' round trip
        if self.fail_direct and any(mandatory for _, mandatory in batch):
            raise TransportError("publish failed: the channel closed")
        return [True] * len(batch)


def direct(n: int) -> OutboxMessage:
    return OutboxMessage(Envelope("x.notifications", "ops.choice", b"{}", "t", f"n{n}"), True)


def event(n: int, name: str) -> OutboxMessage:
    body = orjson.dumps({"event_id": f"i{n}:{name}"})
    envelope = Envelope("x.events", f"{name}.choice", body, EVENT_TYPE, f"event:i{n}:{name}")
    return OutboxMessage(envelope, critical=False, event=True)


def sender(publisher: RecordingPublisher) -> Sender:
    return Sender(cast(Publisher, publisher))


async def test_events_are_written_after_the_direct_messages_are_confirmed() -> None:
    publisher = RecordingPublisher()
    messages = [event(1, "requested"), direct(1), event(1, "notified")]
    assert await sender(publisher).send_all(messages) == [True, True, True]
    [notification], [requested, notified] = publisher.writes
    assert notification == (messages[1].envelope, True)
    assert (requested[0].routing_key, requested[1]) == ("requested.choice", False)
    assert (notified[0].routing_key, notified[1]) == ("notified.choice", False)


async def test_concurrent_transitions_share_batches_and_events_merge_per_routing_key() -> None:
    publisher = RecordingPublisher()
    send = sender(publisher)
    results = await asyncio.gather(
        *(send.send_all([direct(n), event(n, "requested")]) for n in range(5))
    )
    assert results == [[True, True]] * 5
    direct_writes = [w for w in publisher.writes if w[0][1]]
    event_writes = [w for w in publisher.writes if not w[0][1]]
    assert [len(write) for write in direct_writes] == [1, 4]  # group commit
    bodies = [orjson.loads(envelope.body) for write in event_writes for envelope, _ in write]
    assert len(bodies) < 5  # events of several transitions share a message
    assert sorted(e["event_id"] for body in bodies for e in body["events"]) == [
        f"i{n}:requested" for n in range(5)
    ]


async def test_a_failed_notification_keeps_its_events_back() -> None:
    publisher = RecordingPublisher(fail_direct=True)
    results = await sender(publisher).send_all([direct(1), event(1, "requested")])
    assert all(isinstance(r, TransportError) for r in results)
    assert len(publisher.writes) == 1  # the events were not written


async def test_send_raises_what_failed() -> None:
    with pytest.raises(TransportError):
        await sender(RecordingPublisher(fail_direct=True)).send(direct(1))
