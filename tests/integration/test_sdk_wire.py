"""What the Python SDK puts on the wire fits what other languages are promised: the requests
``HitlClient`` publishes and the answers and cancels of ``Responder`` and ``HitlClient`` pass
their schemas, with the AMQP properties docs/contract.md describes (checked by tests.wire_check
as they arrive, like every message the tests receive)."""

import asyncio
import contextlib
from collections.abc import Callable

from hitl.broker.service import BrokerService
from hitl.sdk import HitlClient, Responder
from tests.conftest import Capture
from tests.helpers import answer


async def test_what_the_sdk_sends_fits_the_contract(
    broker: BrokerService,
    client: HitlClient,
    responder: Responder,
    capture: Callable[[str, str], "contextlib.AbstractAsyncContextManager[Capture]"],
) -> None:
    names = broker.names
    async with capture(names.requests, "#") as requests, capture(names.responses, "#") as answers:
        first = client.new_request(
            "clarify", thread_id="wire", prompt="Questions", questions="1. Why?\n2. When?"
        )
        asked = asyncio.create_task(client.ask(first, timeout=10))
        await requests.wait_for(lambda got: len(got) == 1)
        await responder.respond(
            answer(first.id, "answer", {"answers": {"1": "because", "2": "now"}})
        )
        assert (await asked).status == "resolved"
        second = client.new_request("approval", thread_id="wire", prompt="Ship it?")
        await client.submit(second)
        await client.cancel(second.id, reason="not needed")
        await client.wait(second.id, timeout=10)
        await answers.wait_for(lambda got: len(got) == 2)
    sent = requests.messages + answers.messages
    assert [m.type for m in sent] == [
        "hitl.request",
        "hitl.request",
        "hitl.response",
        "hitl.response",
    ]
    assert all(m.correlation_id for m in sent)
