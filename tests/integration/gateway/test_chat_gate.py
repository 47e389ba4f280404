"""hitl.integrations.chat's ThreadGate through the gateway (for a chat without access to Redis):
a thread with a form pending is blocked, with the whole request to show; an answered one is
not; a key that may not read is an error that says so."""

import pytest

from hitl.errors import TransportError
from hitl.gateway.service import GatewayService
from hitl.integrations.chat import ThreadGate
from hitl.sdk import HitlClient, Responder
from tests.helpers import answer, eventually
from tests.integration.gateway.conftest import MakeKey, http_client

THREAD = "chat/7"  # a "/" in a thread id travels as %2F
FIELDS = [{"name": "service", "type": "string", "required": True}]


async def test_the_gate_reads_a_threads_pending_form_through_the_gateway(
    gateway: GatewayService, make_key: MakeKey, client: HitlClient, responder: Responder
) -> None:
    async with http_client(gateway, await make_key("chat-backend", "read")) as http:
        gate = ThreadGate.through_gateway(http)
        assert not await gate.blocked(THREAD)
        request = client.new_request("form", thread_id=THREAD, prompt="Details?", fields=FIELDS)
        await client.submit(request)

        async def blocked() -> bool:
            return await gate.blocked(THREAD)

        await eventually(blocked)
        assert await gate.pending(THREAD) == [request]
        assert await gate.pending("chat") == []

        await responder.respond(answer(request.id, "submit", {"answers": {"service": "web"}}))
        await client.wait(request.id, timeout=30)
        assert await gate.pending(THREAD) == []


async def test_a_key_that_may_not_read_is_an_error_naming_the_status(
    gateway: GatewayService, make_key: MakeKey
) -> None:
    async with http_client(gateway, await make_key("chat-backend", "respond")) as http:
        with pytest.raises(TransportError, match="answered 403 to GET /v1/threads/chat%2F7/"):
            await ThreadGate.through_gateway(http).pending(THREAD)
