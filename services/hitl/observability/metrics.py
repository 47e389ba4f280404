"""Prometheus metrics of one process. Each process owns its registry (no process-global
state), so tests and several brokers in one process never mix their numbers.

``Metrics`` is what the broker counts; ``RuntimeMetrics`` what the service runtime reports for
any hitl process (readiness, consumers, handler failures, event-loop lag, CPU and memory).
Every name here is documented in docs/deploy/observability.md, and the alert rules and the
dashboard (helm/hitl/files/) use no other (tests/deploy/test_observability.py).
"""

import time
from collections.abc import Awaitable, Callable, Iterable
from functools import wraps
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

from hitl.core.integrity import FOUND as STORE_LOSS_FOUND
from hitl_contract import ErrorCode
from hitl_contract.wire import DEAD_LETTER_SOURCES

if TYPE_CHECKING:
    from hitl.ports import Backlog

P = ParamSpec("P")
R = TypeVar("R")

_RESOLUTION_BUCKETS = (
    0.05,
    0.1,
    0.5,
    1,
    5,
    15,
    30,
    60,
    300,
    900,
    1800,
    3600,
    4 * 3600,
    12 * 3600,
    24 * 3600,
    3 * 24 * 3600,
    7 * 24 * 3600,
)


class RoutingMetrics:
    """The routing file's loads, in any process that reads it (broker, notifiers)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.reloads = Counter(
            "hitl_routing_reloads_total",
            "Routing config loads after start: applied, or refused (the previous one stays).",
            ["result"],
            registry=registry,
        )
        for result in ("applied", "refused"):
            self.reloads.labels(result)
        self.ok = Gauge(
            "hitl_routing_config_last_reload_successful",
            "1 when the last load of the routing file succeeded (or none is configured), else 0.",
            registry=registry,
        )
        self.ok.set(1)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "hitl_requests_total", "Interaction requests accepted.", ["kind"], registry=r
        )
        self.duplicates = Counter(
            "hitl_duplicate_messages_total",
            "Redelivered or repeated messages absorbed without effect.",
            ["stage"],
            registry=r,
        )
        self.outcomes = Counter(
            "hitl_outcomes_total",
            "Interactions finished.",
            ["kind", "status", "action"],
            registry=r,
        )
        self.already_resolved = Counter(
            "hitl_late_responses_total",
            "Answers that arrived after the outcome was decided.",
            ["kind"],
            registry=r,
        )
        self.pending = Gauge(
            "hitl_pending_interactions", "Interactions waiting for a person.", registry=r
        )
        self.oldest_pending = Gauge(
            "hitl_oldest_pending_age_seconds",
            "How long the oldest pending interaction has waited (0 when none is pending).",
            registry=r,
        )
        self.outbox = Gauge(
            "hitl_outbox_entries",
            "Committed transitions whose messages are not yet published and deleted.",
            registry=r,
        )
        self.resolution = Histogram(
            "hitl_time_to_resolution_seconds",
            "From request accepted to outcome decided.",
            ["kind", "status"],
            buckets=_RESOLUTION_BUCKETS,
            registry=r,
        )
        self.errors = Counter(
            "hitl_processing_errors_total",
            "Messages that could not be processed as sent.",
            ["stage", "code"],
            registry=r,
        )
        self.dead_lettered = Counter(
            "hitl_dead_lettered_total",
            "Messages sent to the dead-letter queue.",
            ["source", "code"],
            registry=r,
        )
        for source in DEAD_LETTER_SOURCES:  # at 0 from the start, so increase() sees the first
            for code in ErrorCode:
                self.dead_lettered.labels(source, code.value)
        self.unroutable = Counter(
            "hitl_unroutable_total",
            "Published messages no queue was bound to receive.",
            ["exchange"],
            registry=r,
        )
        self.relayed = Counter(
            "hitl_outbox_relayed_total",
            "Outbox messages published by the relay after their writer failed.",
            registry=r,
        )
        self.notifications = Counter(
            "hitl_notifications_total",
            "Notifications sent to people (first, reminders, escalations).",
            ["kind", "reason"],
            registry=r,
        )
        self.votes = Counter(
            "hitl_votes_total",
            "Votes recorded under all_of and quorum policies.",
            ["kind"],
            registry=r,
        )
        self.auto_resolved = Counter(
            "hitl_auto_resolved_total",
            "Interactions resolved by an auto-approve policy.",
            ["kind", "policy"],
            registry=r,
        )
        self.early_answers = Counter(
            "hitl_early_answers_total",
            "Answers that arrived before their request: held, applied, or expired.",
            ["result"],
            registry=r,
        )
        self.routing = RoutingMetrics(r)
        self.store_data_loss = Counter(
            "hitl_store_data_loss_total",
            "Redis came back with less than it had: committed transitions found gone (found="
            "transitions), and what the reconciliation with the store log found and did.",
            ["found"],
            registry=r,
        )
        for found in ("transitions", *STORE_LOSS_FOUND):
            self.store_data_loss.labels(found)
        self.store_fenced = Gauge(
            "hitl_store_fenced",
            "1 while the store is fenced after a possible loss of Redis data: no answer, "
            "timeout or escalation is decided until it is reconciled (or acknowledged).",
            registry=r,
        )
        self.handler_seconds = Histogram(
            "hitl_handler_duration_seconds",
            "Time spent handling one message or tick.",
            ["handler"],
            registry=r,
        )

    def observe_backlog(self, backlog: "Backlog", now: float) -> None:
        """Set the gauges read from the store (the namespace's, the same on every replica)."""
        self.pending.set(backlog.pending)
        oldest = backlog.oldest_requested_at
        self.oldest_pending.set(0.0 if oldest is None else max(0.0, now - oldest))
        self.outbox.set(backlog.outbox)

    def timed(
        self, handler: str
    ) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
        """Middleware: time a handler without the handler knowing about metrics."""
        histogram = self.handler_seconds.labels(handler)

        def wrap(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
            @wraps(fn)
            async def timed_fn(*args: P.args, **kwargs: P.kwargs) -> R:
                start = time.perf_counter()
                try:
                    return await fn(*args, **kwargs)
                finally:
                    histogram.observe(time.perf_counter() - start)

            return timed_fn

        return wrap


_LOOP_LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class RuntimeMetrics:
    """What the service runtime (``hitl.runtime.ServiceHost``) reports for any hitl process,
    labelled with its ``role`` (broker, gateway, notifier)."""

    def __init__(self, registry: CollectorRegistry, role: str) -> None:
        self.role = role
        r = registry
        ProcessCollector(registry=r)  # process_cpu_seconds_total, process_resident_memory_bytes
        self.ready = Gauge(
            "hitl_ready",
            "1 while every readiness check of the process passes (/readyz is 200), else 0.",
            ["role"],
            registry=r,
        )
        self.component_ready = Gauge(
            "hitl_component_ready",
            "1 while this readiness check passes, else 0.",
            ["role", "component"],
            registry=r,
        )
        self.consumer_attached = Gauge(
            "hitl_consumer_attached",
            "1 while the process consumes this queue, else 0.",
            ["role", "queue"],
            registry=r,
        )
        self.handler_failures = Counter(
            "hitl_handler_failures_total",
            "Deliveries whose handler failed: requeued after transient failures outlasted the "
            "retries, or failed (a bug; handed to the service, the broker dead-letters it).",
            ["role", "source", "result"],
            registry=r,
        )
        self.amqp_reconnects = Counter(
            "hitl_amqp_reconnects_total",
            "Times the RabbitMQ connection came back after it was lost (on the same node, or "
            "on another node of the cluster HITL_AMQP_URL lists), channels and consumers "
            "restored.",
            ["role"],
            registry=r,
        )
        self.amqp_reconnects.labels(role)
        self.loop_lag = Histogram(
            "hitl_event_loop_lag_seconds",
            "How late the event loop ran a timer: time the loop was busy or blocked.",
            ["role"],
            buckets=_LOOP_LAG_BUCKETS,
            registry=r,
        )

    def observe_readiness(
        self, report: Iterable[tuple[str, str | None]], consumers: Iterable[tuple[str, bool]]
    ) -> None:
        """Set the readiness gauges from a /readyz report and the consumers' state."""
        report = list(report)
        for component, problem in report:
            self.component_ready.labels(self.role, component).set(problem is None)
        self.ready.labels(self.role).set(all(problem is None for _, problem in report))
        for queue, attached in consumers:
            self.consumer_attached.labels(self.role, queue).set(attached)

    def handling(self, source: str) -> None:
        """Start the failure counters of a consumer at 0."""
        for result in ("requeued", "failed"):
            self.handler_failures.labels(self.role, source, result)

    def handler_failed(self, source: str, result: str) -> None:
        self.handler_failures.labels(self.role, source, result).inc()
