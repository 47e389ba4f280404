"""Where a transition is committed: render its messages, write state and outbox in one atomic
step (compare-and-set), count it, publish. Handlers and the poller all go through here, so every
state change is committed, measured and announced the same way.

An interaction with a trace context passes it on: its messages carry ``traceparent`` (and
``tracestate``) headers, and when spans are made the notifications and the outcome are each
published in a span of their own, a child of the interaction's context."""

from contextlib import AbstractContextManager, ExitStack

from hitl.broker.cache import StateCache
from hitl.broker.dispatch import Dispatcher
from hitl.broker.outbound import OutboxEntry, Traced, render
from hitl.core.machine import Deliver, InteractionState, Notify, Transition
from hitl.core.tracecontext import TraceContext
from hitl.observability.metrics import Metrics
from hitl.observability.tracing import Tracing
from hitl.ports import Created, InteractionStore
from hitl_contract.wire import Names, encode_model


class Committer:
    def __init__(
        self,
        store: InteractionStore,
        dispatcher: Dispatcher,
        names: Names,
        metrics: Metrics,
        cache: StateCache,
        tracing: Tracing | None = None,
    ) -> None:
        self.cache = cache
        self._tracing = tracing or Tracing()
        self._store = store
        self._dispatcher = dispatcher
        self._names = names
        self._metrics = metrics

    async def create(self, transition: Transition) -> Created:
        trace = transition.state.trace
        if trace is None or not self._tracing.recording:  # no spans: nothing to end
            return await self._create(transition, _passed_on(trace))
        with ExitStack() as spans:
            return await self._create(transition, self._spans(transition, trace, spans))

    async def commit(self, before: InteractionState, transition: Transition, now: float) -> bool:
        """False when someone else changed the interaction first (re-read and decide again)."""
        trace = transition.state.trace
        if trace is None or not self._tracing.recording:
            return await self._commit(before, transition, now, _passed_on(trace))
        with ExitStack() as spans:
            traced = self._spans(transition, trace, spans)
            return await self._commit(before, transition, now, traced)

    async def _create(self, transition: Transition, traced: Traced | None) -> Created:
        request_json = encode_model(transition.state.request)  # once: stored and notified
        outbox = render(transition, self._names, request_json, traced=traced)
        created = await self._store.create(transition, _entries(outbox), request_json)
        if created.result == "created":
            state = transition.state
            self.cache.put(state)
            self._metrics.requests.labels(state.request.kind).inc()
            self._count(state, transition, state.requested_at)
            await self._dispatch(transition, outbox)
        return created

    async def _commit(
        self, before: InteractionState, transition: Transition, now: float, traced: Traced | None
    ) -> bool:
        state = transition.state
        outcome_json = encode_model(state.outcome) if state.outcome is not None else None
        outbox = render(transition, self._names, outcome_json=outcome_json, traced=traced)
        result = await self._store.commit(
            transition, before.version, _entries(outbox), now, outcome_json
        )
        if result != "ok":
            self.cache.drop(before.request.id)  # stale: the caller re-reads from Redis
            return False
        self.cache.put(transition.state)
        self._count(before, transition, now)
        await self._dispatch(transition, outbox)
        return True

    def _spans(self, transition: Transition, trace: TraceContext, spans: ExitStack) -> Traced:
        """The trace headers of the transition's messages, each the context of the span
        that publishes them; the spans are entered on ``spans`` (they end once the messages
        are confirmed)."""
        headers = trace.headers()
        commands = transition.commands
        notify = outcome = headers
        if any(isinstance(c, Notify) for c in commands):
            made = spans.enter_context(
                self._span("hitl notify", transition, self._names.notifications)
            )
            notify = made.headers() if made else headers
        if any(isinstance(c, Deliver) for c in commands):
            made = spans.enter_context(self._span("hitl outcome", transition, self._names.outcomes))
            outcome = made.headers() if made else headers
        return Traced(notify, outcome, headers)

    def _span(
        self, name: str, transition: Transition, exchange: str
    ) -> AbstractContextManager[TraceContext | None]:
        request = transition.state.request
        attributes = {
            "messaging.system": "rabbitmq",
            "messaging.operation.type": "publish",
            "messaging.destination.name": exchange,
            "hitl.interaction_id": str(request.id),
            "hitl.kind": request.kind,
        }
        return self._tracing.span(name, transition.state.trace, "producer", attributes)

    def _count(self, before: InteractionState, transition: Transition, now: float) -> None:
        kind = before.request.kind
        for command in transition.commands:
            if isinstance(command, Notify):
                self._metrics.notifications.labels(kind, command.notification.reason).inc()
        outcome = transition.state.outcome
        if outcome is None:
            return
        self._metrics.outcomes.labels(kind, outcome.status, outcome.action).inc()
        self._metrics.resolution.labels(kind, outcome.status).observe(now - before.requested_at)
        if outcome.decided_by.type == "policy":
            self._metrics.auto_resolved.labels(kind, outcome.decided_by.policy or "").inc()

    async def _dispatch(self, transition: Transition, outbox: OutboxEntry) -> None:
        if outbox.messages:
            shard = self._store.shard(transition.state.request.id)
            await self._dispatcher.dispatch(shard, [outbox])


def _passed_on(trace: TraceContext | None) -> Traced | None:
    """Without spans, every message of the transition carries the context as it came."""
    if trace is None:
        return None
    headers = trace.headers()
    return Traced(headers, headers, headers)


def _entries(outbox: OutboxEntry) -> list[tuple[str, bytes]]:
    return [(outbox.entry_id, outbox.encode())] if outbox.messages else []
