"""One trace from ask to outcome, across processes: a producer asks inside a span of its own
(OpenTelemetry's in-memory exporter), a ``hitl broker`` process writes its spans to a file
(HITL_TRACE_FILE), an answerer replies in the notification's context; every span is in the
producer's trace, each a child of the hop before it, and the messages' ``traceparent`` headers
name those spans."""

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from hitl.core.tracecontext import TraceContext
from hitl.observability.tracing import OtelTracing
from hitl.sdk import HitlClient, Responder
from hitl_contract import Notification
from hitl_contract.wire import Names
from tests.helpers import answer
from tests.integration.test_langgraph import Process, started
from tests.servers import AMQP_URL, child_env

sdk = pytest.importorskip("opentelemetry.sdk.trace", reason="the otel extra (uv sync)")
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)


@pytest.fixture
async def traced_broker(namespace: str, tmp_path: Path) -> AsyncIterator[tuple[Process, Path]]:
    spans = tmp_path / "broker-spans.jsonl"
    env = child_env(namespace, HITL_STARTUP_ATTEMPTS="5", HITL_TRACE_FILE=str(spans))
    async with started(env, "-m", "hitl.cli.main", "broker", ready="broker ready") as process:
        yield process, spans


def read_spans(path: Path) -> dict[str, dict[str, Any]]:
    """The broker's spans by name (one of each here), ids as hex without 0x."""
    found = {}
    for line in path.read_text().splitlines():
        span = json.loads(line)
        found[span["name"]] = {
            "trace": span["context"]["trace_id"][2:],
            "id": span["context"]["span_id"][2:],
            "parent": (span["parent_id"] or "0x")[2:],
            "links": [link["context"]["span_id"][2:] for link in span["links"]],
        }
    return found


def ids(span: Any) -> dict[str, str]:
    context = span.get_span_context()
    parent = span.parent
    return {
        "trace": f"{context.trace_id:032x}",
        "id": f"{context.span_id:016x}",
        "parent": f"{parent.span_id:016x}" if parent else "",
    }


async def test_one_trace_from_ask_to_outcome_across_processes(
    namespace: str,
    traced_broker: tuple[Process, Path],
    capture: Callable[..., Any],
) -> None:
    _, broker_spans = traced_broker
    exporter = InMemorySpanExporter()
    provider = sdk.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    names = Names(namespace)
    async with (
        HitlClient.connect(AMQP_URL, service="producer", namespace=namespace) as client,
        Responder.connect(AMQP_URL, namespace=namespace) as responder,
        capture(names.notifications) as notes,
    ):
        client.tracing = OtelTracing(tracer)
        with tracer.start_as_current_span("agent run"):  # the producer's own span
            request = client.new_request("approval", thread_id="t-1", prompt="Ship it?")
            asked = asyncio.create_task(client.ask(request, timeout=30))
        [notification] = await notes.wait_for(lambda m: len(m) == 1, 30)
        note = Notification.model_validate_json(notification.body)
        notified = TraceContext(notification.headers["traceparent"])
        # the answerer (a notifier bot) answers in a span of the notification's context
        with client.tracing.span("answering", notified, "consumer") as own:
            receipt = await responder.respond(answer(note.interaction_id, "approve"), trace=own)
        assert receipt is not None
        assert receipt.result == "accepted"
        outcome = await asked
        assert outcome.action == "approve"

    async def broker_wrote_them() -> dict[str, dict[str, Any]]:
        while len(spans := read_spans(broker_spans)) < 4:
            await asyncio.sleep(0.05)
        return spans

    remote = await asyncio.wait_for(broker_wrote_them(), 10)
    local = {span.name: ids(span) for span in exporter.get_finished_spans()}
    provider.shutdown()
    assert set(local) == {"agent run", "hitl ask", "answering", "hitl outcome received"}
    assert set(remote) == {"hitl request", "hitl notify", "hitl response", "hitl outcome"}

    one_trace = local["agent run"]["trace"]
    assert {s["trace"] for s in [*local.values(), *remote.values()]} == {one_trace}
    assert local["hitl ask"]["parent"] == local["agent run"]["id"]
    assert remote["hitl request"]["parent"] == local["hitl ask"]["id"]  # across processes
    assert remote["hitl notify"]["parent"] == remote["hitl request"]["id"]
    assert notified.parent_id == remote["hitl notify"]["id"]  # the notification's header
    assert local["answering"]["parent"] == remote["hitl notify"]["id"]
    assert remote["hitl response"]["parent"] == local["answering"]["id"]
    assert remote["hitl outcome"]["parent"] == remote["hitl request"]["id"]
    assert remote["hitl outcome"]["links"] == [remote["hitl response"]["id"]]
    assert local["hitl outcome received"]["parent"] == remote["hitl outcome"]["id"]
