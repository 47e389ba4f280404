"""What a notifier counts: deliveries by result, attempts by outcome, their latency, updates
on decision. Documented in docs/deploy/observability.md."""

from prometheus_client import CollectorRegistry, Counter, Histogram

from hitl.observability.metrics import RoutingMetrics


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
