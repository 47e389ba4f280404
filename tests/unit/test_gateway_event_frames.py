"""What GET /v1/events writes for what the hub says, on an in-memory hub: events as frames,
filters, reset after a hole, and a last frame for a stream too slow to keep up."""

import uuid
from datetime import UTC, datetime

import orjson

from hitl.gateway.fanout import Fanout
from hitl.gateway.routers.events import event_frames, matching
from hitl_contract import LifecycleEvent, LifecycleEventName

EVERYTHING = matching(set(), None, None, None)


def event(name: str = "requested", kind: str = "approval", thread: str = "t") -> LifecycleEvent:
    iid = uuid.uuid4()
    return LifecycleEvent(
        event=LifecycleEventName(name),
        event_id=f"{iid}:1:{name}",
        interaction_id=iid,
        kind=kind,
        thread_id=thread,
        at=datetime.now(UTC),
    )


async def test_each_event_is_a_frame_with_its_id_name_and_json() -> None:
    hub = Fanout(10)
    frames = event_frames(hub, None, EVERYTHING)
    e = event("resolved")
    hub.publish([e])
    frame = await anext(frames)
    assert (frame.id, frame.event) == (e.event_id, "resolved")
    assert LifecycleEvent.model_validate_json(frame.data) == e


async def test_filters_must_all_hold() -> None:
    e = event("resolved", "approval", "t1")
    assert matching({LifecycleEventName.RESOLVED}, "approval", "t1", e.interaction_id)(e)
    assert not matching({LifecycleEventName.REQUESTED}, None, None, None)(e)
    assert not matching(set(), "text_input", None, None)(e)
    assert not matching(set(), None, "t2", None)(e)
    assert not matching(set(), None, None, uuid.uuid4())(e)


async def test_a_hole_is_a_reset_without_an_id_and_the_stream_goes_on() -> None:
    hub = Fanout(10)
    frames = event_frames(hub, "gone:1:resolved", EVERYTHING)
    reset = await anext(frames)
    assert (reset.event, reset.id) == ("reset", None)
    assert "no longer held" in orjson.loads(reset.data)["reason"]
    e = event()
    hub.publish([e])
    assert (await anext(frames)).id == e.event_id
    hub.lost("the connection dropped")
    assert (await anext(frames)).event == "reset"
    after = event()
    hub.publish([after])  # subscribed again before the reset was sent: nothing is missed
    assert (await anext(frames)).id == after.event_id


async def test_a_stream_too_slow_gets_a_last_dropped_frame() -> None:
    hub = Fanout(10, subscriber_limit=2)
    frames = event_frames(hub, None, EVERYTHING)
    first = event()
    hub.publish([first])
    assert (await anext(frames)).id == first.event_id
    hub.publish([event(), event(), event()])  # one more than it may hold
    dropped = await anext(frames)
    assert (dropped.event, dropped.id) == ("dropped", None)
    assert "behind" in orjson.loads(dropped.data)["reason"]
    assert [f async for f in frames] == []
    assert hub.subscribers == 0


async def test_the_stream_ends_when_the_hub_stops() -> None:
    hub = Fanout(10)
    frames = event_frames(hub, None, EVERYTHING)
    hub.close()
    assert [f async for f in frames] == []
