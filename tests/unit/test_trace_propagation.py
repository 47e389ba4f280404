"""The broker passes W3C trace context on, on the in-memory twins: from a request to its
notifications, events and outcome, from an answer to its receipt; with OpenTelemetry, a span
per hop in between. The same path over RabbitMQ and Redis, across processes:
tests/integration/test_trace_context.py."""

import uuid
from collections.abc import Iterator

import orjson
import pytest

from hitl.adapters.memory import ManualClock, MemoryDelivery, MemorySink, MemoryStore
from hitl.broker.assembly import Broker
from hitl.broker.outbound import OutboxEntry, OutboxMessage, event_batch
from hitl.observability.metrics import Metrics
from hitl.observability.tracing import OtelTracing, Tracing
from hitl.ports import Envelope
from hitl_contract.wire import EVENT_TYPE, REQUEST_TYPE, RESPONSE_TYPE
from tests.broker_cases import REPLY_TO
from tests.helpers import answer, raw_request
from tests.servers import test_settings

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
ASKED = f"00-{TRACE}-00f067aa0ba902b7-01"
ANSWERED = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
RECEIPTS = "memory-receipts"


def assemble(tracing: Tracing) -> tuple[Broker, MemorySink]:
    clock = ManualClock()
    settings = test_settings(f"trace-{uuid.uuid4().hex[:8]}", events_linger_seconds=0.0)
    sink = MemorySink()
    broker = Broker.assemble(
        settings,
        store=MemoryStore(shards=settings.shards, clock=clock),
        sink=sink,
        clock=clock,
        metrics=Metrics(),
        tracing=tracing,
    )
    broker.start()
    return broker, sink


async def ask_and_answer(
    broker: Broker, sink: MemorySink, request_headers: dict[str, str]
) -> uuid.UUID:
    names = broker.names
    body = raw_request(reply_to=REPLY_TO)
    iid = uuid.UUID(body["id"])
    await broker.handlers.on_request(
        MemoryDelivery(
            orjson.dumps(body), names.requests, "approval", REQUEST_TYPE, body["id"],
            headers=request_headers,
        )
    )  # fmt: skip
    response = answer(iid, "approve")
    key = str(response.response_id)
    await broker.handlers.on_response(
        MemoryDelivery(
            response.model_dump_json().encode(), names.responses, str(iid), RESPONSE_TYPE, key,
            key, RECEIPTS, headers={"traceparent": ANSWERED},
        )
    )  # fmt: skip
    await broker.send_lingering_events()
    await broker.flush_outbox_deletes()
    return iid


def sent(sink: MemorySink, broker: Broker) -> dict[str, Envelope]:
    names = broker.names
    [notification] = sink.on(names.notifications)
    [outcome] = sink.on(names.outcomes, REPLY_TO)
    [receipt] = sink.on("", RECEIPTS)
    events = [e for e in sink.on(names.events) if e.message_type == EVENT_TYPE]
    return {"notification": notification, "outcome": outcome, "receipt": receipt, **{
        f"events{i}": e for i, e in enumerate(events)
    }}  # fmt: skip


async def test_without_spans_the_context_is_passed_on_as_it_came() -> None:
    broker, sink = assemble(Tracing())
    iid = await ask_and_answer(broker, sink, {"traceparent": ASKED, "tracestate": "a=1"})
    messages = sent(sink, broker)
    asked = {"traceparent": ASKED, "tracestate": "a=1"}
    assert messages.pop("receipt").headers == {"traceparent": ANSWERED}  # the answer's own
    assert {name: dict(e.headers) for name, e in messages.items()} == dict.fromkeys(messages, asked)
    state = await broker.store.load(iid)
    assert state is not None
    assert state.trace is not None
    assert state.trace.headers() == asked


@pytest.mark.parametrize(
    "headers",
    [{}, {"traceparent": "ff-" + ASKED[3:]}, {"traceparent": ASKED.upper()}, {"x-other": "1"}],
)
async def test_no_context_or_a_malformed_one_sends_none_and_changes_nothing_else(
    headers: dict[str, str],
) -> None:
    broker, sink = assemble(Tracing())
    iid = await ask_and_answer(broker, sink, headers)
    messages = sent(sink, broker)
    del messages["receipt"]
    assert all(not e.headers for e in messages.values())
    assert orjson.loads(messages["outcome"].body)["action"] == "approve"
    state = await broker.store.load(iid)
    assert state is not None
    assert state.trace is None


def test_the_outbox_keeps_the_headers_for_the_relay() -> None:
    traced = Envelope("x", "k", b"{}", "t", "m", "c", {"traceparent": ASKED})
    plain = Envelope("x", "k", b"[]", "t", "m2")
    entry = OutboxEntry("id:1", (OutboxMessage(traced, True), OutboxMessage(plain, False)))
    decoded = OutboxEntry.decode("id:1", entry.encode())
    assert [m.envelope for m in decoded.messages] == [traced, plain]


def test_a_batch_of_events_carries_the_context_its_events_share() -> None:
    one = Envelope("ev", "k", b"{}", EVENT_TYPE, "e1", None, {"traceparent": ASKED})
    same = Envelope("ev", "k", b"{}", EVENT_TYPE, "e2", None, {"traceparent": ASKED})
    other = Envelope("ev", "k", b"{}", EVENT_TYPE, "e3", None, {"traceparent": ANSWERED})
    assert event_batch([one, same]).headers == {"traceparent": ASKED}
    assert not event_batch([one, other]).headers
    assert not event_batch([one, Envelope("ev", "k", b"{}", EVENT_TYPE, "e4")]).headers


@pytest.fixture
def exporter() -> Iterator[object]:
    sdk = pytest.importorskip("opentelemetry.sdk.trace", reason="the otel extra")
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = sdk.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter, provider.get_tracer("hitl")
    provider.shutdown()


async def test_with_spans_each_hop_is_a_span_of_the_producers_trace(exporter: object) -> None:
    memory, tracer = exporter  # type: ignore[misc]
    broker, sink = assemble(OtelTracing(tracer))
    await ask_and_answer(broker, sink, {"traceparent": ASKED, "tracestate": "a=1"})
    spans = {span.name: span for span in memory.get_finished_spans()}
    assert set(spans) == {"hitl request", "hitl notify", "hitl response", "hitl outcome"}
    request, notify = spans["hitl request"], spans["hitl notify"]
    response, outcome = spans["hitl response"], spans["hitl outcome"]

    def ids(span: object) -> tuple[str, str]:
        context = span.get_span_context()  # type: ignore[attr-defined]
        return f"{context.trace_id:032x}", f"{context.span_id:016x}"

    assert request.parent.span_id == int(ASKED[36:52], 16)  # the producer's span
    assert notify.parent.span_id == request.get_span_context().span_id
    assert outcome.parent.span_id == request.get_span_context().span_id
    assert {ids(s)[0] for s in (request, notify, outcome)} == {TRACE}
    assert ids(response)[0] == ANSWERED[3:35]  # the answer's own trace, linked from the outcome
    assert [link.context.span_id for link in outcome.links] == [response.context.span_id]
    assert request.kind.name == "CONSUMER"
    assert notify.kind.name == outcome.kind.name == "PRODUCER"

    messages = sent(sink, broker)
    assert messages["notification"].headers == {
        "traceparent": f"00-{TRACE}-{ids(notify)[1]}-01",
        "tracestate": "a=1",
    }
    assert messages["outcome"].headers["traceparent"] == f"00-{TRACE}-{ids(outcome)[1]}-01"
    assert messages["receipt"].headers["traceparent"].split("-")[1:3] == list(ids(response))


async def test_with_spans_a_request_without_context_starts_a_trace(exporter: object) -> None:
    memory, tracer = exporter  # type: ignore[misc]
    broker, sink = assemble(OtelTracing(tracer))
    await ask_and_answer(broker, sink, {"traceparent": "00-garbage"})
    spans = {span.name: span for span in memory.get_finished_spans()}
    request = spans["hitl request"]
    assert request.parent is None
    started = f"{request.get_span_context().trace_id:032x}"
    assert sent(sink, broker)["outcome"].headers["traceparent"][3:35] == started


def test_the_sdk_makes_spans_only_once_the_process_has_a_tracer_provider(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sdk = pytest.importorskip("opentelemetry.sdk.trace", reason="the otel extra (uv sync)")
    from opentelemetry import trace

    from hitl.core.tracecontext import parse
    from hitl.observability.tracing import for_client

    tracing, parent = for_client(), parse(ASKED)[0]
    assert not tracing.recording  # no provider set up in this process
    with tracing.span("hitl ask", parent, "producer") as passed:
        assert passed == parent  # passed on as it came, no span made
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: sdk.TracerProvider())
    assert tracing.recording  # set up later: the same client now makes spans
