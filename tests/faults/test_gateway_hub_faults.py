"""The gateway's event hub when RabbitMQ closes its connection: subscribers are told that
events may be missing, and the hub consumes again after the reconnect."""

import asyncio
import os
import socket

import pytest
from prometheus_client import CollectorRegistry

from hitl.broker.service import BrokerService
from hitl.gateway.deps import EventsMissed
from hitl.gateway.hub import Hub
from hitl.runtime.host import ServiceHost
from hitl.sdk import HitlClient, Responder
from hitl.settings import Settings
from hitl_contract.wire import Names
from tests.faults.test_faults import rabbitmqctl
from tests.helpers import answer, eventually

pytestmark = pytest.mark.slow


@pytest.mark.timeout(60)
async def test_a_lost_connection_resets_every_stream_and_the_hub_goes_on(
    settings: Settings, broker: BrokerService, client: HitlClient, responder: Responder
) -> None:
    host = ServiceHost(settings, role="gateway", registry=CollectorRegistry())
    hub = Hub(Names(settings.namespace), buffer_size=100)
    try:
        await hub.start(host)
        before = client.new_request("approval", thread_id="t", prompt="before")
        stream = hub.subscribe()
        await client.submit(before)
        seen = [await asyncio.wait_for(anext(stream), 10) for _ in range(2)]
        assert [e.event.value for _, e in seen] == ["requested", "notified"]
        last_id = seen[-1][0]

        name = f'"hitl-gateway {socket.gethostname()}:{os.getpid()}"'
        listing = await rabbitmqctl("list_connections", "pid", "client_properties")
        [connection] = [line.split()[0] for line in listing.splitlines() if name in line]
        await rabbitmqctl("close_connection", connection, "fault test")

        with pytest.raises(EventsMissed, match="lost its connection"):
            await asyncio.wait_for(anext(stream), 30)
        with pytest.raises(EventsMissed):  # no resuming across the hole
            await anext(hub.subscribe(last_id))
        await eventually(lambda: _ready(host), timeout=30)

        after = hub.subscribe()
        await responder.respond(answer(before.id, "approve"))
        assert await hub.wait_final(str(before.id), 15)
        names = [(await anext(after))[1].event.value for _ in range(2)]
        assert names == ["responded", "resolved"]
    finally:
        await host.stop()


async def _ready(host: ServiceHost) -> bool:
    return not await host.not_ready()
