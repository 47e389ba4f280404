"""Live updates for open inbox pages: server-sent events from the gateway's event hub.

The list page follows ``/inbox/events?<its filters>``: a new interaction that fits the
filters comes as ``event: row`` with the row's HTML (rendered and escaped here, by the same
template as the page), a decided, cancelled or timed-out one as ``event: gone`` with its id.
A detail page follows ``/inbox/events?interaction=<id>``: every step of that interaction
comes as ``event: changed`` (data ``final`` once it is decided), and the page re-reads what it
shows. Frames carry the hub's event ids, so a browser that reconnects resumes after the last
one; when the hub no longer holds it (or lost events), ``event: reset`` tells the page to
re-read everything.

The subscription starts before the response's first byte: what is published once the
browser's ``EventSource`` is open reaches it.
"""

from collections.abc import AsyncIterator
from uuid import UUID

from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.requests import Request
from starlette.responses import Response

from hitl.core.listing import matches
from hitl.gateway import views
from hitl.gateway.deps import EventsMissed, GatewayContext, SubscriberDropped, context
from hitl.gateway.fanout import FINAL
from hitl.gateway.inbox import session as sessions
from hitl.gateway.inbox.common import as_uuid, router
from hitl.gateway.inbox.listing import ListView
from hitl.gateway.inbox.templating import render
from hitl.gateway.routers.events import PING_SECONDS, SEND_TIMEOUT_SECONDS
from hitl_contract import Identity, LifecycleEvent, LifecycleEventName

_MAX_ID = 512
StreamItem = tuple[str, LifecycleEvent]


@router.get("/events")
async def events(request: Request) -> Response:
    session, _ = await sessions.current(request)
    if session is None:
        return Response("sign in first", 401, media_type="text/plain")
    ctx = context(request)
    last = request.headers.get("last-event-id")
    stream = ctx.hub.subscribe(last if last and len(last) <= _MAX_ID else None)
    interaction = as_uuid(request.query_params.get("interaction", ""))
    if interaction is not None:
        frames = _guarded(_detail(stream, interaction))
    else:
        view = ListView.parse(request.query_params)
        frames = _guarded(_rows(ctx, stream, view, session.principal.identity))
    return EventSourceResponse(
        frames,
        ping=PING_SECONDS,
        send_timeout=SEND_TIMEOUT_SECONDS,
        headers={"Cache-Control": "no-store"},
    )


async def _guarded(frames: AsyncIterator[ServerSentEvent]) -> AsyncIterator[ServerSentEvent]:
    """The frames, then ``reset`` when events were missed or this stream fell behind."""
    try:
        async for frame in frames:
            yield frame
    except (EventsMissed, SubscriberDropped) as exc:
        yield ServerSentEvent(str(exc), event="reset")


async def _rows(
    ctx: GatewayContext, stream: AsyncIterator[StreamItem], view: ListView, who: Identity
) -> AsyncIterator[ServerSentEvent]:
    if not view.live:
        return
    query = view.filters(who).query(1, None)
    async for stream_id, event in stream:
        iid = event.interaction_id
        if iid is None or (view.kind and event.kind != view.kind):
            continue
        if event.event in FINAL:
            yield ServerSentEvent(str(iid), event="gone", id=stream_id)
        elif event.event == LifecycleEventName.REQUESTED:
            state = await ctx.reads.load(iid)
            if state is not None and state.is_pending and matches(state, query):
                row = render("_row.html", {"item": views.summary(state, ctx.clock())})
                yield ServerSentEvent(row, event="row", id=stream_id)


async def _detail(
    stream: AsyncIterator[StreamItem], interaction: UUID
) -> AsyncIterator[ServerSentEvent]:
    async for stream_id, event in stream:
        if event.interaction_id == interaction:
            final = "final" if event.event in FINAL else "step"
            yield ServerSentEvent(final, event="changed", id=stream_id)
