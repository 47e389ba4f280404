"""What a notifier counts: deliveries by result, attempts by outcome, their latency, updates
on decision. Documented in docs/deploy/observability.md.

Every series of a channel, and of each receiver it serves, starts at 0 (``start_channel``,
``start_receiver``): the alert rules use increase(), which sees a counter's first increment
only when the series existed before it."""

from prometheus_client import CollectorRegistry, Counter, Histogram

from hitl.observability.metrics import RoutingMetrics

DELIVERY_RESULTS = ("delivered", "duplicate", "settled", "fell_back", "undelivered")
ATTEMPT_OUTCOMES = ("ok", "retryable", "permanent")
UPDATE_RESULTS = ("ok", "failed")


class NotifierMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.routing = RoutingMetrics(r)
        self.deliveries = Counter(
            "hitl_notifier_deliveries_total",
            "Notifications handled: delivered, duplicate, settled, fell_back, undelivered.",
            ["channel", "receiver", "result"],
            registry=r,
        )
        self.attempts = Counter(
            "hitl_notifier_attempts_total",
            "Send attempts: ok, retryable or permanent failures.",
            ["channel", "outcome"],
            registry=r,
        )
        self.latency = Histogram(
            "hitl_notifier_delivery_seconds",
            "Time of a successful send.",
            ["channel"],
            registry=r,
        )
        self.updates = Counter(
            "hitl_notifier_updates_total",
            "Sent messages updated once their interaction was decided: ok or failed.",
            ["channel", "result"],
            registry=r,
        )

    def start_channel(self, channel: str) -> None:
        """The channel's attempts, latency and updates, at 0."""
        for outcome in ATTEMPT_OUTCOMES:
            self.attempts.labels(channel, outcome)
        self.latency.labels(channel)
        for result in UPDATE_RESULTS:
            self.updates.labels(channel, result)

    def start_receiver(self, channel: str, receiver: str) -> None:
        """A receiver's deliveries, by every result, at 0."""
        for result in DELIVERY_RESULTS:
            self.deliveries.labels(channel, receiver, result)
