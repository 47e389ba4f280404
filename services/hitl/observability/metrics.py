"""Prometheus metrics of one broker process. Each broker owns its registry (no process-global
state), so tests and several brokers in one process never mix their numbers."""

import time
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

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
        self.handler_seconds = Histogram(
            "hitl_handler_duration_seconds",
            "Time spent handling one message or tick.",
            ["handler"],
            registry=r,
        )

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
