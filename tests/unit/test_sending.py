"""The Sender's order of work (pure logic over a recording publisher; the flow and relay tests
cover the same path against RabbitMQ): notifications and outcomes are confirmed first, events
trail behind them in the background, merged per routing key over the linger, and a transition
whose direct messages failed keeps its events for the relay."""

import asyncio
import time
from typing import cast

import orjson
import pytest

from hitl.adapters.amqp.publisher import Publisher
from hitl.broker.outbound import OutboxMessage
from hitl.broker.sending import Sender
from hitl.errors import TransportError
from hitl.ports import Envelope
from hitl_contract.wire import EVENT_TYPE


class RecordingPublisher:
    def __init__(self, *, fail_direct: bool = False, fail_events: bool = False) -> None:
        self.writes: list[list[tuple[Envelope, bool]]] = []
        self.fail_direct = fail_direct
        self.fail_events = fail_events

    async def publish_batch(self, batch: list[tuple[Envelope, bool]]) -> list[bool]:
        self.writes.append(batch)
        await asyncio.sleep(0.01)  # the confirms' round trip
        mandatory = any(m for _, m in batch)
        if (self.fail_direct and mandatory) or (self.fail_events and not mandatory):
            raise TransportError("publish failed: the channel closed")
        return [True] * len(batch)

    def event_ids(self) -> list[str]:
        bodies = [orjson.loads(e.body) for w in self.writes for e, m in w if not m]
        return [event["event_id"] for body in bodies for event in body["events"]]


def direct(n: int) -> OutboxMessage:
    return OutboxMessage(Envelope("x.notifications", "ops.choice", b"{}", "t", f"n{n}"), True)


def event(n: int, name: str) -> OutboxMessage:
    body = orjson.dumps({"event_id": f"i{n}:{name}"})
    envelope = Envelope("x.events", f"{name}.choice", body, EVENT_TYPE, f"event:i{n}:{name}")
    return OutboxMessage(envelope, critical=False, event=True)


def sender(publisher: RecordingPublisher, linger: float = 0.05) -> Sender:
    return Sender(cast(Publisher, publisher), events_linger=linger)


async def test_events_trail_the_confirmed_direct_messages() -> None:
    publisher = RecordingPublisher()
    messages = [event(1, "requested"), direct(1), event(1, "notified")]
    results, events = await sender(publisher).send_all(messages)
    assert results == [True]
    assert publisher.writes == [[(messages[1].envelope, True)]] and not events.done()
    await events
    [_, [requested, notified]] = publisher.writes
    assert (requested[0].routing_key, requested[1]) == ("requested.choice", False)
    assert (notified[0].routing_key, notified[1]) == ("notified.choice", False)


async def test_events_within_the_linger_share_one_message_per_routing_key() -> None:
    publisher = RecordingPublisher()
    send = sender(publisher, linger=0.1)
    futures = []
    for batch in range(3):  # one after another, as with one interaction in flight
        sent = await asyncio.gather(
            *(send.send_all([direct(n), event(n, "requested")]) for n in range(batch, 9, 3))
        )
        futures += [events for _, events in sent]
    await asyncio.gather(*futures)
    event_writes = [w for w in publisher.writes if not w[0][1]]
    assert [len(w) for w in event_writes] == [1]  # 9 events, one message
    assert sorted(publisher.event_ids()) == [f"i{n}:requested" for n in range(9)]


async def test_a_failed_notification_keeps_its_events_back() -> None:
    publisher = RecordingPublisher(fail_direct=True)
    [result], events = await sender(publisher, linger=0).send_all(
        [direct(1), event(1, "requested")]
    )
    assert isinstance(result, TransportError)
    await asyncio.sleep(0.05)
    assert not events.done() and len(publisher.writes) == 1  # the events were not written


async def test_failed_events_fail_their_future() -> None:
    publisher = RecordingPublisher(fail_events=True)
    _, events = await sender(publisher, linger=0).send_all([direct(1), event(1, "requested")])
    with pytest.raises(TransportError):
        await events


async def test_drain_sends_the_lingering_events_now() -> None:
    publisher = RecordingPublisher()
    send = sender(publisher, linger=30)
    _, events = await send.send_all([direct(1), event(1, "requested")])
    started = time.monotonic()
    await send.drain()
    assert events.done() and time.monotonic() - started < 1
    assert publisher.event_ids() == ["i1:requested"]


async def test_send_waits_for_its_own_confirm() -> None:
    publisher = RecordingPublisher()
    send = sender(publisher, linger=0)
    assert await send.send(event(1, "rejected")) is True
    assert publisher.event_ids() == ["i1:rejected"]
    with pytest.raises(TransportError):
        await sender(RecordingPublisher(fail_direct=True)).send(direct(1))


async def test_a_later_transition_does_not_overtake_the_events_of_an_earlier_one() -> None:
    publisher = RecordingPublisher()
    send = sender(publisher, linger=0)
    # A reminder (a notification to confirm first), then a vote of the same interaction
    # (events only, nothing to wait for) while the reminder's notification is on its way.
    reminder = asyncio.create_task(send.send_all([direct(1), event(1, "reminded")]))
    await asyncio.sleep(0)
    _, voted = await send.send_all([event(1, "responded"), event(1, "voted")])
    _, reminded = await reminder
    await asyncio.gather(voted, reminded)
    assert publisher.event_ids() == ["i1:reminded", "i1:responded", "i1:voted"]


async def test_a_failed_transition_does_not_hold_back_the_events_behind_it() -> None:
    publisher = RecordingPublisher(fail_direct=True)
    send = sender(publisher, linger=0)
    failed = asyncio.create_task(send.send_all([direct(1), event(1, "reminded")]))
    await asyncio.sleep(0)
    _, voted = await send.send_all([event(2, "voted")])
    await asyncio.wait_for(voted, 1)
    [result], _ = await failed
    assert isinstance(result, TransportError)
    assert publisher.event_ids() == ["i2:voted"]
