"""The broker's logic wired to its ports: one place that builds every part from a store, a
message sink and a clock.

``BrokerService`` assembles it with Redis and RabbitMQ and hosts it in the service runtime;
tests assemble it with the in-memory twins (``hitl.adapters.memory``) and call the handlers and
the poller directly. Nothing here does I/O of its own.
"""

from dataclasses import dataclass

from hitl.broker.answers import AnswerApplier
from hitl.broker.cache import StateCache
from hitl.broker.claims import ClaimApplier
from hitl.broker.committer import Committer
from hitl.broker.dead_letters import DeadLetters
from hitl.broker.dispatch import Dispatcher, OutboxJanitor
from hitl.broker.handlers import Handlers
from hitl.broker.poller import Poller
from hitl.broker.receipts import Receipts
from hitl.broker.refusals import Refusals
from hitl.broker.sending import Sender
from hitl.core.claims import ClaimPolicy
from hitl.observability.metrics import Metrics
from hitl.observability.tracing import Tracing
from hitl.ports import Clock, InteractionStore, MessageSink
from hitl.runtime.routing import Router
from hitl.settings import Settings
from hitl_contract import ErrorDetail
from hitl_contract.wire import Names


@dataclass(frozen=True, slots=True)
class Broker:
    handlers: Handlers
    poller: Poller
    dead_letters: DeadLetters
    store: InteractionStore
    metrics: Metrics
    names: Names
    router: Router
    _sender: Sender
    _janitor: OutboxJanitor

    @classmethod
    def assemble(
        cls,
        settings: Settings,
        *,
        store: InteractionStore,
        sink: MessageSink,
        clock: Clock,
        metrics: Metrics,
        tracing: Tracing | None = None,
    ) -> "Broker":
        """``tracing``: spans for requests, answers and what they publish (none by default;
        trace context is passed on either way)."""
        s = settings
        tracing = tracing or Tracing()
        names = Names(s.namespace)
        sender = Sender(sink, events_linger=s.events_linger_seconds)
        receipts = Receipts(sink)
        refusals = Refusals(sender, receipts, names, metrics, clock)
        dead_letters = DeadLetters(sink, refusals, names, metrics)

        async def report(detail: ErrorDetail, key: str) -> None:
            await refusals.refuse(detail, "routing", key, interaction_id=None)

        router = Router(s.routing_file, s.default_route, metrics.routing, report)
        janitor = OutboxJanitor(store)
        dispatcher = Dispatcher(sender, janitor, dead_letters, metrics)
        cache = StateCache(s.state_cache_size)
        committer = Committer(store, dispatcher, names, metrics, cache, tracing)
        answers = AnswerApplier(
            store,
            committer,
            receipts,
            refusals,
            dead_letters,
            metrics,
            clock,
            hold_seconds=s.early_answer_hold_seconds,
            max_payload_bytes=s.max_payload_bytes,
        )
        trusted = (
            None if s.trusted_answer_services is None else frozenset(s.trusted_answer_services)
        )
        claims = ClaimApplier(
            store,
            committer,
            receipts,
            refusals,
            clock,
            ClaimPolicy(s.claim_ttl_seconds, s.claim_max_ttl_seconds),
            max_payload_bytes=s.max_payload_bytes,
            trusted_answerers=trusted,
        )
        handlers = Handlers(
            committer,
            answers,
            dead_letters,
            metrics,
            clock,
            s.max_payload_bytes,
            s.default_route,
            router,
            claims,
            tuple(s.auto_approve),
            trusted,
            tracing=tracing,
        )
        poller = Poller(
            store,
            committer,
            answers,
            dispatcher,
            metrics,
            clock,
            router,
            interval=s.poll_interval_seconds,
            lease=s.claim_lease_seconds,
            retention_seconds=s.retention_seconds,
        )
        return cls(handlers, poller, dead_letters, store, metrics, names, router, sender, janitor)

    def start(self) -> None:
        """Start the outbox janitor (published entries are deleted in batches)."""
        self._janitor.start()

    async def send_lingering_events(self) -> None:
        """Send the lifecycle events still waiting to be batched, and wait for their confirms."""
        await self._sender.drain()

    async def flush_outbox_deletes(self) -> None:
        """Stop the janitor after deleting what it was told was published."""
        await self._janitor.stop()
