"""The broker's outgoing messages as bytes (pure): notifications spliced from the stored request
JSON, event batches and outbox entries must read back as the contract's models."""

import time
import uuid

import orjson

from hitl.broker.outbound import (
    OutboxEntry,
    event_batch,
    notification_body,
    render,
)
from hitl.core.decoding import REQUEST_ADAPTER
from hitl.core.machine import Notify, Transition, answer, open_interaction
from hitl_contract import LifecycleEvents, Notification
from hitl_contract.wire import Names, encode_model
from tests.helpers import answer as response

NAMES = Names("t")


def opened(**overrides: object) -> Transition:
    request = REQUEST_ADAPTER.validate_python(
        {
            "kind": "choice",
            "id": str(uuid.uuid4()),
            "thread_id": "th",
            "prompt": "Which region? ünïcode ✓",
            "options": ["eu", "us"],
            "reply_to": "r",
            "requester": {"id": "agent"},
            "context": {"amount": 12.5, "nested": {"a": [1, 2.0, None]}},
            **overrides,
        }
    )
    return open_interaction(request, time.time(), "ops")


def test_a_spliced_notification_is_the_model_serialised_whole() -> None:
    for overrides in ({}, {"timeout_seconds": 90.5}):
        transition = opened(**overrides)
        [note] = [c.notification for c in transition.commands if isinstance(c, Notify)]
        spliced = notification_body(note, encode_model(transition.state.request))
        assert orjson.loads(spliced) == orjson.loads(encode_model(note))
        assert Notification.model_validate_json(spliced) == Notification.model_validate_json(
            encode_model(note)
        )


def test_events_of_a_routing_key_make_one_valid_batch() -> None:
    transition = opened()
    entry = render(transition, NAMES)
    events = [m.envelope for m in entry.messages if m.event]
    assert [e.routing_key for e in events] == ["requested.choice", "notified.choice"]
    batch = event_batch(events)
    parsed = LifecycleEvents.model_validate_json(batch.body)
    assert [e.event for e in parsed.events] == ["requested", "notified"]
    assert batch.message_id == event_batch(events).message_id  # stable across republishing
    assert batch.message_id != event_batch(events[:1]).message_id


def test_an_outbox_entry_reads_back_as_written() -> None:
    first = opened()
    second = answer(
        first.state, response(first.state.request.id, "choose", {"choice": 1}), time.time()
    )
    for transition in (first, second):
        entry = render(transition, NAMES)
        assert entry.entry_id == f"{transition.state.request.id}:{transition.state.version}"
        assert OutboxEntry.decode(entry.entry_id, entry.encode()) == entry
