"""A notification's trace context reaches the receiver: the webhook POST carries
``traceparent`` (the notification's, or with spans the ``hitl deliver`` span's), and so does a
notification handed to the fallback receiver."""

from collections.abc import Iterator

import pytest

from hitl.core.tracecontext import TraceContext
from hitl.errors import Permanent
from hitl.notifiers.delivery import Deliverer, Job, Result
from hitl.notifiers.metrics import NotifierMetrics
from hitl.observability.tracing import OtelTracing, Tracing, carried_headers, carrying
from tests.unit.test_notifier_delivery import NOW, Escape, ScriptedChannel, Settled, World
from tests.unit.test_webhook_channel import PUBLIC, Rebinding, Recorder, channel, webhook

ASKED = TraceContext("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "a=1")


def deliverer(world: World, send: object, tracing: Tracing) -> Deliverer:
    return Deliverer(
        send, world.log, world.store, Settled(world.store), world.escape, NotifierMetrics(),
        clock=lambda: NOW, tracing=tracing,
    )  # type: ignore[arg-type]  # fmt: skip


async def traced_job(world: World) -> Job:
    job = await world.job()
    return Job(job.notification, job.message_id, webhook(f"http://{PUBLIC}/in"), None, ASKED)


async def test_the_webhook_post_carries_the_notifications_context() -> None:
    world, recorder = World(), Recorder()
    hooks = channel(recorder, Rebinding())
    assert await deliverer(world, hooks, Tracing()).deliver(await traced_job(world)) == (
        Result.DELIVERED
    )
    [request] = recorder.requests
    assert request.headers["traceparent"] == ASKED.traceparent
    assert request.headers["tracestate"] == "a=1"
    await hooks.close()


async def test_without_a_context_the_post_has_none() -> None:
    recorder = Recorder()
    hooks = channel(recorder, Rebinding())
    await hooks.send(webhook(f"http://{PUBLIC}/in"), (await World().job()).notification)
    [request] = recorder.requests
    assert "traceparent" not in request.headers
    await hooks.close()


async def test_a_fallback_carries_the_context_on() -> None:
    world = World()
    failing = ScriptedChannel(Permanent("HTTP 400"))
    seen: list[dict[str, str]] = []

    class Watching(Escape):
        async def fallback(self, note: object, message_id: str, receiver: str, to: str) -> bool:
            seen.append(carried_headers())
            return True

    world.escape = Watching()
    job = await world.job()
    traced = Job(job.notification, job.message_id, job.receiver, "backup", ASKED)
    assert await deliverer(world, failing, Tracing()).deliver(traced) == Result.FELL_BACK
    assert seen == [ASKED.headers()]
    assert carried_headers() == {}  # only while delivering


def test_carrying_sets_and_restores() -> None:
    with carrying(ASKED):
        assert carried_headers() == ASKED.headers()
        with carrying(None):
            assert carried_headers() == {}
        assert carried_headers() == ASKED.headers()


@pytest.fixture
def spans() -> Iterator[tuple[object, object]]:
    sdk = pytest.importorskip("opentelemetry.sdk.trace", reason="the otel extra")
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = sdk.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter, provider.get_tracer("hitl")
    provider.shutdown()


async def test_with_spans_the_post_carries_the_deliver_span(
    spans: tuple[object, object],
) -> None:
    exporter, tracer = spans
    world, recorder = World(), Recorder()
    hooks = channel(recorder, Rebinding())
    await deliverer(world, hooks, OtelTracing(tracer)).deliver(await traced_job(world))
    [span] = exporter.get_finished_spans()  # type: ignore[attr-defined]
    assert span.name == "hitl deliver"
    assert span.parent.span_id == int(ASKED.parent_id, 16)
    context = span.get_span_context()
    [request] = recorder.requests
    assert request.headers["traceparent"] == (f"00-{ASKED.trace_id}-{context.span_id:016x}-01")
    assert span.attributes["hitl.receiver"] == "bot"
    await hooks.close()
