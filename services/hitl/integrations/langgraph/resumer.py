"""The resumer: a service that turns each outcome into ``Command(resume=...)`` on its thread.

It consumes the reply queue of the producer service that published the graph's questions
(``hitl.reply.<service>``), hosted like every hitl process (``ServiceHost``: start-up
retries, readiness and metrics on the ops port, SIGTERM drains). Each outcome is applied by
``HitlGraph.resume`` and acked only after the resumed run committed to the checkpointer; an
outcome redelivered after a crash is recognised and not applied twice. An outcome it cannot
place (its thread, checkpoint or interrupt is not in the checkpointer, another graph's, a body
that is not an outcome, a graph that fails on it) is logged, counted
(``hitl_langgraph_outcomes_total{result="parked"}``), reported as a ``rejected`` lifecycle event
(source ``resume``, code ``not_resumable``) and parked, unchanged, in the durable
queue ``<namespace>.langgraph.parked.<service>`` with the reason in its headers, never
dropped and never applied elsewhere.

    python -m hitl.integrations.langgraph.resumer --graph examples.langgraph_approval:open_graph \\
        --service drafts --name drafts
"""

import argparse
import asyncio
import contextlib
import hashlib
import importlib
import logging
import os
import sys
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any, cast

from aio_pika.abc import AbstractIncomingMessage
from langgraph.pregel import Pregel
from prometheus_client import CollectorRegistry, Counter
from pydantic import ValidationError

from hitl.adapters.amqp.publisher import Publisher
from hitl.adapters.amqp.topology import declare_queue, ensure_broker_queues, refusal_named
from hitl.errors import ConfigError, TransportError
from hitl.integrations.langgraph.graph import HitlGraph, Result
from hitl.observability.logs import configure_logging
from hitl.ports import Envelope
from hitl.runtime.host import ServiceHost
from hitl.sdk.client import HitlClient
from hitl.settings import Settings
from hitl_contract import (
    ErrorCode,
    ErrorDetail,
    InteractionOutcome,
    LifecycleEvent,
    LifecycleEventName,
    LifecycleEvents,
)
from hitl_contract.wire import (
    EVENT_TYPE,
    OUTCOME_TYPE,
    Names,
    encode_model,
    event_key,
    outcome_key,
    queue_arguments,
)

log = logging.getLogger(__name__)
OpenGraph = Callable[[], AbstractAsyncContextManager[Pregel[Any, Any, Any, Any]]]
PARKED_REASON = "x-hitl-parked-reason"
PARKED_CODE = "x-hitl-parked-code"


def parked_queue(names: Names, service: str) -> str:
    return f"{names.namespace}.langgraph.parked.{service}"


class Resumer:
    """``open_graph()`` opens the compiled graph with its checkpointer (an async context
    manager, closed when the resumer stops); ``service`` is the producer service whose reply
    queue it consumes; ``name`` the graph's name in the requests' ``resume_state`` (default:
    the service, as ``HitlGraph``'s)."""

    def __init__(
        self, settings: Settings, open_graph: OpenGraph, *, service: str, name: str | None = None
    ) -> None:
        self.settings = settings
        self.names = Names(settings.namespace)
        self.service = service
        self._open_graph = open_graph
        self._name = name or service
        self.registry = CollectorRegistry()
        self.outcomes = Counter(
            "hitl_langgraph_outcomes_total",
            "Outcomes the LangGraph resumer handled: resumed, duplicate (applied before, "
            "redelivered) or parked (with why).",
            ["graph", "result", "code"],
            registry=self.registry,
        )
        self.host = ServiceHost(settings, role="langgraph-resumer", registry=self.registry)
        self.graph: HitlGraph | None = None
        self._graphs = contextlib.AsyncExitStack()
        self._publisher: Publisher | None = None

    async def start(self) -> None:
        await self.host.start_or_close(self._start)

    async def run(self) -> None:
        """Start, then run until SIGTERM or SIGINT; then drain and stop."""
        await self.host.run_until_signalled(self._start)

    async def stop(self) -> None:
        await self.host.stop()

    async def _start(self) -> None:
        s, host, names = self.settings, self.host, self.names
        graph = await self._graphs.enter_async_context(self._open_graph())
        host.on_stop("closing the graph's checkpointer", self._graphs.aclose)
        connection = await host.amqp()
        await ensure_broker_queues(connection, names, s.queue_type, s.delivery_limit)
        publish = await host.channel(confirms=True)
        consume = await host.channel(confirms=False, prefetch=s.prefetch)
        arguments = queue_arguments(names, s.queue_type, s.delivery_limit)
        await declare_queue(consume, parked_queue(names, self.service), arguments)
        queue = await declare_queue(consume, names.reply_queue(self.service), arguments)
        with refusal_named(f"bind queue {queue.name} to {names.outcomes}"):
            await queue.bind(names.outcomes, outcome_key(self.service))
        client = HitlClient(
            connection, publish, consume, names, self.service, self.service, None,
            fast=s.amqp_fast_path,
        )  # fmt: skip
        self.graph = HitlGraph(graph, client, name=self._name)
        self._publisher = Publisher(publish, fast=s.amqp_fast_path)
        await host.consume(
            consume, queue, self._on_outcome, source="outcomes", on_failure=self._on_failure
        )
        await host.serve_ops()
        log.info(
            "resuming graph %r from %s (parked: %s)",
            self._name,
            queue.name,
            parked_queue(names, self.service),
        )

    async def _on_outcome(self, message: AbstractIncomingMessage) -> None:
        assert self.graph is not None
        try:
            outcome = InteractionOutcome.model_validate_json(message.body)
        except ValidationError as exc:
            await self._park(message, "unreadable", f"not an outcome: {exc.errors()[:1]}")
            return
        resumed = await self.graph.resume(outcome)
        if resumed.result is Result.PARKED:
            await self._park(message, resumed.code, resumed.reason, outcome)
            return
        self.outcomes.labels(self._name, resumed.result, "").inc()
        log.info(
            "%s thread %r with the outcome of %s (%s %s); asked next: %s",
            resumed.result,
            outcome.thread_id,
            outcome.interaction_id,
            outcome.status,
            outcome.action,
            [str(i) for i in resumed.published] or "nothing",
        )

    async def _on_failure(
        self, message: AbstractIncomingMessage, source: str, exc: Exception
    ) -> None:
        """The graph (or the checkpointer) failed on this outcome: park it for an operator;
        if even that fails, it goes back to the queue."""
        try:
            await self._park(message, "failed", f"the graph failed on it: {exc!r}")
        except Exception:
            log.exception("could not park an outcome; it goes back to the queue")
            with contextlib.suppress(Exception):
                await message.nack(requeue=True)
            return
        with contextlib.suppress(Exception):
            await message.ack()

    async def _park(
        self,
        message: AbstractIncomingMessage,
        code: str,
        reason: str,
        outcome: InteractionOutcome | None = None,
    ) -> None:
        """Keep the outcome as it came, with why, in the parked queue. If it cannot be kept
        there, the delivery is requeued (a TransportError), never acked."""
        assert self._publisher is not None
        about = f"{outcome.interaction_id} (thread {outcome.thread_id!r})" if outcome else "?"
        log.error("parking the outcome of %s for graph %r: %s", about, self._name, reason)
        self.outcomes.labels(self._name, Result.PARKED, code).inc()
        queue = parked_queue(self.names, self.service)
        routed = await self._publisher.publish(
            Envelope(
                "",
                queue,
                message.body,
                message.type or OUTCOME_TYPE,
                message.message_id or f"parked:{about}",
                message.correlation_id,
                headers={PARKED_CODE: code, PARKED_REASON: reason[:1024]},
            )
        )
        if not routed:
            raise TransportError(f"the parked queue {queue} is gone; keeping the outcome")
        await self._report(message, code, reason, outcome)

    async def _report(
        self,
        message: AbstractIncomingMessage,
        code: str,
        reason: str,
        outcome: InteractionOutcome | None,
    ) -> None:
        """A ``rejected`` lifecycle event (source ``resume``, code ``not_resumable``) on the
        events exchange, for whoever watches them (the gateway's stream, a dashboard). Best
        effort: the outcome is parked already."""
        assert self._publisher is not None
        key = message.message_id or hashlib.sha256(message.body).hexdigest()[:32]
        event = LifecycleEvent(
            event=LifecycleEventName.REJECTED,
            event_id=f"rejected:resume:{key}",
            interaction_id=outcome.interaction_id if outcome else None,
            thread_id=outcome.thread_id if outcome else None,
            kind=outcome.kind if outcome else None,
            at=datetime.now(UTC),
            outcome=outcome,
            error=ErrorDetail(
                code=ErrorCode.NOT_RESUMABLE,
                message=f"parked in {parked_queue(self.names, self.service)}: {reason}",
                path="resume_state.langgraph",
                got=code,
            ),
            source="resume",
        )
        try:
            await self._publisher.publish(
                Envelope(
                    self.names.events,
                    event_key(event.event, event.kind),
                    encode_model(LifecycleEvents(events=[event])),
                    EVENT_TYPE,
                    f"events:{event.event_id}",  # a batch of one, as the broker names them
                ),
                mandatory=False,
            )
        except Exception as exc:  # noqa: BLE001 - parked and logged already
            log.warning("could not publish the rejected event of %s: %r", key, exc)


def open_graph_named(reference: str) -> OpenGraph:
    """``module:callable`` (``module`` alone: its ``open_graph``), imported from the current
    directory too, as ``python -m`` does."""
    module, _, attribute = reference.partition(":")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        found = getattr(importlib.import_module(module), attribute or "open_graph")
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"--graph {reference}: {exc}") from exc
    if not callable(found):
        raise ConfigError(f"--graph {reference}: not a callable opening the graph")
    return cast(OpenGraph, found)


async def serve(settings: Settings, graph: str, service: str, name: str | None = None) -> int:
    """Run the resumer until SIGTERM or Ctrl-C (``hitl langgraph resume``)."""
    await Resumer(settings, open_graph_named(graph), service=service, name=name).run()
    return 0


def main(argv: list[str] | None = None) -> None:
    """``python -m hitl.integrations.langgraph.resumer --graph module:open_graph ...``"""
    parser = argparse.ArgumentParser(prog="python -m hitl.integrations.langgraph.resumer")
    parser.add_argument("--graph", required=True, help="module:callable opening the graph")
    parser.add_argument("--name", help="the graph's name in resume_state (default: the service)")
    parser.add_argument("--service", help="the producer service (default: $HITL_SERVICE)")
    args = parser.parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    service = args.service or os.environ.get("HITL_SERVICE", "default")
    asyncio.run(serve(settings, args.graph, service, args.name))


if __name__ == "__main__":
    main()
