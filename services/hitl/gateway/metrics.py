"""HTTP metrics of the gateway, as an ASGI middleware the routes know nothing about.

Requests are counted and timed by route template (``/v1/interactions/{interaction_id}``, never
the raw path, so the series stay few), method and status. Paths no route matches share the
route label ``unmatched``.
"""

import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
UNMATCHED = "unmatched"


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "hitl_http_requests_total",
            "HTTP requests the gateway answered.",
            ["route", "method", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "hitl_http_request_duration_seconds",
            "From a request's arrival to the end of its response.",
            ["route", "method", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )


class MeasureRequests:
    """The ASGI middleware that fills ``HttpMetrics``."""

    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # what the client sees when the app fails before it answers

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            labels = (_route(scope), scope["method"], str(status))
            self.metrics.requests.labels(*labels).inc()
            self.metrics.latency.labels(*labels).observe(time.perf_counter() - start)


def _route(scope: Scope) -> str:
    route = scope.get("route")
    # path_format: the template without converters ({thread_id}, not {thread_id:path})
    path = getattr(route, "path_format", None) if isinstance(route, BaseRoute) else None
    return path if isinstance(path, str) else UNMATCHED
