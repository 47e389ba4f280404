"""The gateway passes an HTTP request's trace context on: ``http_trace`` reads the
``traceparent``/``tracestate`` headers (a malformed one: none), and what the broker link
publishes within ``carrying`` it (``GatewayApp`` sets it per request) carries them."""

import uuid

from hitl.core.decoding import REQUEST_ADAPTER
from hitl.core.tracecontext import TraceContext
from hitl.gateway.app import http_trace
from hitl.gateway.broker_link import AmqpBrokerLink
from hitl.observability.tracing import carrying
from hitl.ports import Envelope
from hitl_contract.wire import Names
from tests.helpers import raw_request

GOOD = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def scope(*headers: tuple[bytes, bytes]) -> dict[str, object]:
    return {"type": "http", "headers": [(b"host", b"x"), *headers]}


def test_http_trace_reads_the_two_headers() -> None:
    assert http_trace(scope((b"traceparent", GOOD.encode()), (b"tracestate", b"a=1"))) == (
        TraceContext(GOOD, "a=1")
    )
    assert http_trace(scope()) is None
    assert http_trace(scope((b"traceparent", GOOD.upper().encode()))) is None
    assert http_trace(scope((b"tracestate", b"a=1"))) is None


class Recording:
    def __init__(self) -> None:
        self.sent: list[Envelope] = []

    async def publish(self, envelope: Envelope, mandatory: bool = True) -> bool:
        self.sent.append(envelope)
        return True


async def test_a_request_published_over_http_carries_the_context() -> None:
    publisher = Recording()
    link = AmqpBrokerLink(publisher, Names("t"), "receipts")  # type: ignore[arg-type]
    request = REQUEST_ADAPTER.validate_python(raw_request(id=str(uuid.uuid4())))
    with carrying(TraceContext(GOOD, "a=1")):
        await link.request(request)
    await link.request(request)
    assert [dict(e.headers) for e in publisher.sent] == [
        {"traceparent": GOOD, "tracestate": "a=1"},
        {},
    ]
