"""``hitl watch`` through the gateway reads its event stream: events are handed on, a
``reset`` is told on stderr and the stream goes on, ``dropped`` ends it with exit 7, and a
401 is a refused key (exit 6); the gateway here is a stand-in speaking the documented SSE."""

import uuid
from datetime import UTC, datetime

import httpx
import pytest

from hitl.cli.backends.http import GatewayBackend
from hitl.cli.backends.port import EventFilter
from hitl.cli.errors import NotAllowed, Unreachable
from hitl_contract import LifecycleEvent
from hitl_contract.wire import encode_model


def event(name: str) -> LifecycleEvent:
    iid = uuid.uuid4()
    return LifecycleEvent.model_validate(
        {"event": name, "event_id": f"{iid}:1:{name}", "interaction_id": str(iid),
         "kind": "approval", "at": datetime.now(UTC).isoformat()}
    )  # fmt: skip


def stream(*frames: str, status: int = 200) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/events"
        assert request.headers["authorization"] == "Bearer hitl_k_s"
        assert request.url.params.get_list("event") == ["requested"]
        body = "".join(frames).encode()
        return httpx.Response(status, content=body, headers={"content-type": "text/event-stream"})

    return httpx.MockTransport(handler)


async def collect(transport: httpx.MockTransport) -> list[LifecycleEvent]:
    async with GatewayBackend("http://gw", "hitl_k_s", transport=transport) as gateway:
        return [e async for e in gateway.events(EventFilter(frozenset({"requested"})))]


async def test_events_reset_and_the_end(capsys: pytest.CaptureFixture[str]) -> None:
    first, second = event("requested"), event("requested")
    got = await collect(
        stream(
            ": ping\n\n",
            f"id: {first.event_id}\nevent: requested\ndata: {encode_model(first).decode()}\n\n",
            'event: reset\ndata: {"reason":"event \'x\' is no longer held"}\n\n',
            f"id: {second.event_id}\nevent: requested\ndata: {encode_model(second).decode()}\n\n",
        )
    )
    assert [e.event_id for e in got] == [first.event_id, second.event_id]
    assert capsys.readouterr().err == (
        "hitl: events may be missing (event 'x' is no longer held); "
        "`hitl pending` shows where things stand\n"
    )


async def test_dropped_and_refused() -> None:
    with pytest.raises(Unreachable, match="dropped the event stream"):
        await collect(stream('event: dropped\ndata: {"reason":"too slow"}\n\n'))
    with pytest.raises(NotAllowed, match="refused the key"):
        await collect(stream('{"title": "Unauthenticated", "status": 401}', status=401))
