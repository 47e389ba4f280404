"""``GET /v1/events``: lifecycle events as server-sent events, filtered, resumable.

Each event goes out as ``id: <event_id>``, ``event: <lifecycle event name>`` and ``data:``
the ``LifecycleEvent`` JSON, so a browser's ``EventSource`` resumes with ``Last-Event-ID``
after a reconnect. When the hub no longer holds that id, or lost events while its connection
to RabbitMQ was down, the stream sends ``event: reset`` (no id, so the client keeps its last
one) and goes on from now: the client re-reads what it shows instead of silently skipping
events. A client too slow to keep up gets ``event: dropped`` and the stream ends; reconnecting
with its last id resumes it while the hub still holds that id.
"""

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from hitl.gateway.deps import (
    EventHub,
    EventsMissed,
    Principal,
    Scope,
    SubscriberDropped,
    context,
    require,
)
from hitl_contract import LifecycleEvent, LifecycleEventName
from hitl_contract.wire import encode_model

PING_SECONDS = 15.0  # keeps proxies from closing an idle stream
SEND_TIMEOUT_SECONDS = 30.0  # a client that takes no bytes for this long is cut off
_MAX_ID = 512

router = APIRouter(prefix="/v1", tags=["events"])

Wanted = Callable[[LifecycleEvent], bool]
StreamItem = tuple[str, LifecycleEvent]


class EventStream(EventSourceResponse):
    media_type = "text/event-stream"  # for the OpenAPI document (the instance sets it too)


# Self-contained (its $id anchors its own $defs): OpenAPI 3.1 has no place for a stream's items,
# so nothing else in the document refers to it.
_EVENT_SCHEMA = {
    "$id": "urn:hitl:gateway:lifecycle-event",
    **LifecycleEvent.model_json_schema(mode="serialization"),
}
_FRAME_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "One server-sent event. `event` is a lifecycle event name, or `reset` "
    "(re-read the state you show: events were missed) or `dropped` (too slow: reconnect).",
    "properties": {
        "id": {"type": "string", "description": "The event's event_id: resume after it."},
        "event": {"type": "string", "enum": [*LifecycleEventName, "reset", "dropped"]},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": _EVENT_SCHEMA,
            "description": 'The LifecycleEvent JSON; for reset and dropped, {"reason": ...}.',
        },
    },
    "required": ["event", "data"],
}
_EXAMPLE = (
    "id: 0b6f4c1e-7d8a-4a57-9a52-1e2f3c4d5e6f:2:resolved\n"
    "event: resolved\n"
    'data: {"schema_version":1,"event":"resolved","event_id":"0b6f4c1e-7d8a-4a57-9a52-'
    '1e2f3c4d5e6f:2:resolved","interaction_id":"0b6f4c1e-7d8a-4a57-9a52-1e2f3c4d5e6f",...}\n\n'
)

_STREAM_DOC = {"itemSchema": _FRAME_SCHEMA, "example": _EXAMPLE}  # itemSchema: as OpenAPI 3.2


@router.get(
    "/events",
    summary="Stream lifecycle events (server-sent events)",
    response_class=EventStream,
    response_description="An endless text/event-stream: each event's data is a LifecycleEvent "
    "(see itemSchema), with keep-alive comments between events.",
    openapi_extra={"responses": {"200": {"content": {"text/event-stream": _STREAM_DOC}}}},
)
async def stream_events(
    request: Request,
    _: Annotated[Principal, Depends(require(Scope.READ))],
    event: Annotated[
        list[LifecycleEventName] | None,
        Query(description="Only these events (repeat the parameter for several)."),
    ] = None,
    kind: Annotated[str | None, Query(max_length=64, description="Only this kind.")] = None,
    thread_id: Annotated[str | None, Query(max_length=256, description="Only this thread.")] = None,
    interaction_id: Annotated[UUID | None, Query(description="Only this interaction.")] = None,
    last_event_id: Annotated[
        str | None,
        Query(
            max_length=_MAX_ID,
            description="Resume after this event id (for clients that cannot set the "
            "Last-Event-ID header; the header wins).",
        ),
    ] = None,
    last_event_id_header: Annotated[
        str | None, Header(alias="Last-Event-ID", max_length=_MAX_ID)
    ] = None,
) -> EventSourceResponse:
    """Lifecycle events as they happen (requested, notified, responded, resolved, ...),
    filtered by the parameters given (all must match), resumable with Last-Event-ID."""
    wanted = matching(set(event or ()), kind, thread_id, interaction_id)
    frames = event_frames(context(request).hub, last_event_id_header or last_event_id, wanted)
    return EventStream(frames, ping=PING_SECONDS, send_timeout=SEND_TIMEOUT_SECONDS)


def matching(
    names: set[LifecycleEventName],
    kind: str | None,
    thread_id: str | None,
    interaction_id: UUID | None,
) -> Wanted:
    """The filter of a stream: every given criterion must hold."""

    def wanted(e: LifecycleEvent) -> bool:
        return (
            (not names or e.event in names)
            and (kind is None or e.kind == kind)
            and (thread_id is None or e.thread_id == thread_id)
            and (interaction_id is None or e.interaction_id == interaction_id)
        )

    return wanted


def event_frames(
    hub: EventHub, last_event_id: str | None, wanted: Wanted
) -> AsyncIterator[ServerSentEvent]:
    """The stream's events: the hub's events that are ``wanted``, a reset where the hub says
    events were missed, a last ``dropped`` when this stream fell behind. The subscription
    starts now, before the response's first byte, so what is published meanwhile is kept."""
    return _frames(hub, hub.subscribe(last_event_id), wanted)


async def _frames(
    hub: EventHub, events: AsyncIterator[StreamItem], wanted: Wanted
) -> AsyncIterator[ServerSentEvent]:
    try:
        while True:
            try:
                async for stream_id, e in events:
                    if wanted(e):
                        yield ServerSentEvent(
                            encode_model(e).decode(), event=e.event.value, id=stream_id
                        )
                return  # the hub stopped: the client reconnects, here or to another replica
            except EventsMissed as missed:
                await _close(events)
                events = hub.subscribe()  # before the client is told, so it misses nothing
                yield _notice("reset", str(missed))
            except SubscriberDropped as dropped:
                yield _notice("dropped", str(dropped))
                return
    finally:
        await _close(events)


def _notice(name: str, reason: str) -> ServerSentEvent:
    # No id: the client keeps the last event id it had (an empty one would clear it).
    return ServerSentEvent(orjson.dumps({"reason": reason}).decode(), event=name)


async def _close(events: AsyncIterator[object]) -> None:
    """End a subscription now rather than when it is collected."""
    if isinstance(events, AsyncGenerator):
        await events.aclose()
