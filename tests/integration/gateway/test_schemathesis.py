"""Property tests of the gateway against its own OpenAPI document (schemathesis): requests
generated from the document, valid and not, sent to a live gateway with a real broker, find
no server error, and every answer fits the document (status, content type, body).

The servers run in a thread with a loop of their own, since schemathesis calls synchronously.
The event stream (GET /v1/events) never ends by design; its own tests cover it.
"""

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from hitl.adapters.redis.apikeys import RedisApiKeys
from hitl.adapters.redis.keys import Keys
from hitl.broker.service import BrokerService
from hitl.core.apikeys import mint
from hitl.gateway.app import openapi_document
from hitl.gateway.service import GatewayService
from hitl.sdk import HitlClient
from hitl_contract import Identity
from tests.integration.gateway.conftest import gateway_settings
from tests.servers import AMQP_URL, REPLY_SERVICES, delete_namespace

schema = schemathesis.openapi.from_dict(openapi_document()).exclude(path="/v1/events")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


class LiveGateway:
    """A broker, a gateway and a few interactions in a namespace of their own, served from a
    thread until ``close``."""

    def __init__(self) -> None:
        self.namespace = f"test-{uuid.uuid4().hex[:12]}"
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        started: Future[tuple[int, str]] = Future()
        self._thread = threading.Thread(target=self._run, args=(started,), daemon=True)
        self._thread.start()
        self.port, self.token = started.result(timeout=60)

    def _run(self, started: "Future[tuple[int, str]]") -> None:
        self._loop.run_until_complete(self._serve(started))
        self._loop.close()

    async def _serve(self, started: "Future[tuple[int, str]]") -> None:
        s = gateway_settings(self.namespace)
        broker, gateway = BrokerService(s), GatewayService(s)
        try:
            await broker.start()
            await gateway.start()
            token, record = mint(Identity(id="alice"), ("admin",), time.time())
            await RedisApiKeys(await gateway.host.redis(), Keys(s.namespace, s.shards)).add(record)
            async with HitlClient.connect(AMQP_URL, service="producer", namespace=s.namespace) as c:
                for n in range(3):
                    await c.submit(c.new_request("approval", thread_id=f"t-{n}", prompt="ok?"))
            started.set_result((gateway.port, token))
            await self._stop.wait()
        except BaseException as exc:
            if not started.done():
                started.set_exception(exc)
            raise
        finally:
            await gateway.stop()
            await broker.stop()
            await delete_namespace(self.namespace, extra_queues=REPLY_SERVICES)

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)


@pytest.fixture(scope="module")
def live() -> Iterator[LiveGateway]:
    gateway = LiveGateway()
    yield gateway
    gateway.close()


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_server_errors_and_answers_fit_the_document(
    case: schemathesis.Case, live: LiveGateway
) -> None:
    case.call_and_validate(
        base_url=f"http://127.0.0.1:{live.port}",
        headers={"Authorization": f"Bearer {live.token}"},
        checks=CHECKS,
        timeout=15,
    )
