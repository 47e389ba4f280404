"""GET /v1/events over real HTTP: the gateway's router and hub, uvicorn, a real broker; read as
a browser's EventSource would (filters, Last-Event-ID, reset, keep-alive)."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from prometheus_client import CollectorRegistry

from hitl.broker.service import BrokerService
from hitl.gateway.deps import GatewayContext, Scope
from hitl.gateway.hub import Hub
from hitl.gateway.routers import events
from hitl.runtime.host import ServiceHost
from hitl.runtime.stores import redis_store
from hitl.sdk import HitlClient, Responder
from hitl.settings import Settings
from hitl_contract import LifecycleEvent
from hitl_contract.wire import Names
from tests.helpers import answer
from tests.served import StaticKeys, app_of, serve

READER, ANSWERER = "reader-token", "answerer-token"


@dataclass
class Frame:
    event: str | None = None
    id: str | None = None
    data: str = ""
    comments: list[str] = field(default_factory=list)


async def frames(response: httpx.Response) -> AsyncIterator[Frame]:
    """The stream's events as EventSource parses them (comments kept, for the pings)."""
    frame = Frame()
    async for line in response.aiter_lines():
        if not line:
            yield frame
            frame = Frame()
        elif line.startswith(":"):
            frame.comments.append(line[1:].strip())
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                frame.data = f"{frame.data}\n{value}" if frame.data else value
            elif name in ("event", "id"):
                setattr(frame, name, value)


async def take(stream: AsyncIterator[Frame], n: int, timeout: float = 10) -> list[Frame]:
    """The next ``n`` events (pings skipped)."""

    async def collect() -> list[Frame]:
        got: list[Frame] = []
        async for frame in stream:
            if frame.event is not None:
                got.append(frame)
                if len(got) == n:
                    break
        return got

    return await asyncio.wait_for(collect(), timeout)


def lifecycle(frame: Frame) -> LifecycleEvent:
    e = LifecycleEvent.model_validate_json(frame.data)
    assert frame.event == e.event.value and frame.id == e.event_id
    return e


@pytest.fixture
async def base_url(settings: Settings, broker: BrokerService) -> AsyncIterator[str]:
    host = ServiceHost(settings, role="gateway", registry=CollectorRegistry())
    hub = Hub(Names(settings.namespace), buffer_size=50)
    keys = StaticKeys()
    keys.add(READER, "ana", Scope.READ)
    keys.add(ANSWERER, "ben", Scope.RESPOND)
    try:
        await hub.start(host)
        reads = redis_store(await host.redis(), settings)
        context = GatewayContext(settings, reads, keys, hub, time.time)
        async with serve(app_of(context, [events.router])) as url:
            yield url
    finally:
        await host.stop()


def http(base_url: str, token: str | None = READER) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(base_url=base_url, headers=headers, timeout=10)


ANSWERS = {"approval": ("approve", {}), "text_input": ("respond", {"text": "fine"})}


async def approve(
    client: HitlClient, responder: Responder, thread: str = "t1", kind: str = "approval"
) -> uuid.UUID:
    """An interaction asked and answered: requested, notified, responded, resolved."""
    request = client.new_request(kind, thread_id=thread, prompt="?")
    await client.submit(request)
    action, data = ANSWERS[kind]
    await responder.respond(answer(request.id, action, data))
    return request.id


async def test_a_key_with_read_scope_is_needed(base_url: str) -> None:
    async with http(base_url, None) as anonymous, http(base_url, ANSWERER) as answerer:
        assert (await anonymous.get("/v1/events")).status_code == 401
        refused = await answerer.get("/v1/events")
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["allowed"] == ["read", "admin"]


async def test_the_stream_carries_each_event_with_its_id_name_and_json(
    base_url: str, client: HitlClient, responder: Responder
) -> None:
    async with http(base_url) as reader, reader.stream("GET", "/v1/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        stream = frames(response)
        iid = await approve(client, responder)
        got = [lifecycle(f) for f in await take(stream, 4)]
    assert [e.event.value for e in got] == ["requested", "notified", "responded", "resolved"]
    assert {e.interaction_id for e in got} == {iid}
    assert got[-1].outcome is not None and got[-1].outcome.action == "approve"


async def test_filters_select_by_event_kind_thread_and_interaction(
    base_url: str, client: HitlClient, responder: Responder
) -> None:
    by_all = {"event": ["requested", "resolved"], "kind": "approval", "thread_id": "t1"}
    async with (
        http(base_url) as reader,
        reader.stream("GET", "/v1/events", params=by_all) as filtered,
        reader.stream("GET", "/v1/events") as everything,
    ):
        selected, every = frames(filtered), frames(everything)
        other_thread = await approve(client, responder, thread="t2")
        other_kind = await approve(client, responder, kind="text_input")
        wanted = await approve(client, responder)
        got = [lifecycle(f) for f in await take(selected, 2)]
        assert [(e.interaction_id, e.event.value) for e in got] == [
            (wanted, "requested"),
            (wanted, "resolved"),
        ]  # the earlier interactions' events were all passed over
        unfiltered = [lifecycle(f) for f in await take(every, 12)]
    steps = ["requested", "notified", "responded", "resolved"]
    for iid in (other_thread, other_kind, wanted):  # the same stream, unfiltered, has them all
        assert [e.event.value for e in unfiltered if e.interaction_id == iid] == steps


async def test_a_stream_of_one_interaction(
    base_url: str, client: HitlClient, responder: Responder
) -> None:
    request = client.new_request("approval", thread_id="t1", prompt="?")
    await client.submit(request)
    one = {"interaction_id": str(request.id)}
    async with http(base_url) as reader, reader.stream("GET", "/v1/events", params=one) as r:
        stream = frames(r)
        await approve(client, responder)  # another one, not shown
        await responder.respond(answer(request.id, "reject"))
        got = [lifecycle(f) for f in await take(stream, 4)]
    assert {e.interaction_id for e in got} == {request.id}
    assert [e.event.value for e in got] == ["requested", "notified", "responded", "resolved"]


async def test_bad_filters_are_refused_naming_the_parameter(base_url: str) -> None:
    async with http(base_url) as reader:
        for params, where in (
            ({"event": "exploded"}, "event"),
            ({"interaction_id": "nope"}, "interaction_id"),
            ({"kind": "k" * 65}, "kind"),
        ):
            response = await reader.get("/v1/events", params=params)
            assert response.status_code == 422, params  # the app's handlers make it a 400
            assert where in response.text


async def test_a_client_reconnecting_with_last_event_id_gets_what_it_missed(
    base_url: str, client: HitlClient, responder: Responder
) -> None:
    request = client.new_request("approval", thread_id="t1", prompt="?")
    async with http(base_url) as reader:
        async with reader.stream("GET", "/v1/events") as first:
            await client.submit(request)
            seen = await take(frames(first), 2)  # requested, notified; then the tab closes
        await responder.respond(answer(request.id, "approve"))
        await asyncio.sleep(0.3)  # the answer's events reach the hub while nobody listens
        last = seen[-1].id
        assert last is not None
        header = {"Last-Event-ID": last}
        async with reader.stream("GET", "/v1/events", headers=header) as again:
            missed = [lifecycle(f).event.value for f in await take(frames(again), 2)]
        assert missed == ["responded", "resolved"]
        query = {"last_event_id": seen[0].id}  # for clients that cannot set the header
        async with reader.stream("GET", "/v1/events", params=query) as again:
            missed = [lifecycle(f).event.value for f in await take(frames(again), 3)]
        assert missed == ["notified", "responded", "resolved"]


async def test_an_id_no_longer_held_gets_a_reset_then_live_events(
    base_url: str, client: HitlClient, responder: Responder
) -> None:
    stale = {"Last-Event-ID": f"{uuid.uuid4()}:3:resolved"}
    async with http(base_url) as reader, reader.stream("GET", "/v1/events", headers=stale) as r:
        stream = frames(r)
        [reset] = await take(stream, 1)
        assert reset.event == "reset" and reset.id is None  # the client keeps its last id
        assert "no longer held" in reset.data
        iid = await approve(client, responder)
        assert {lifecycle(f).interaction_id for f in await take(stream, 4)} == {iid}


async def test_an_idle_stream_gets_keep_alive_comments(
    base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events, "PING_SECONDS", 0.2)
    async with http(base_url) as reader, reader.stream("GET", "/v1/events") as r:
        stream = frames(r)
        first = await asyncio.wait_for(anext(stream), 5)
    assert first.event is None and first.comments and first.comments[0].startswith("ping")
