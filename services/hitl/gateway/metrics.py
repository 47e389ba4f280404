"""HTTP metrics of the gateway, as an ASGI middleware the routes know nothing about.

Requests are counted and timed by route template (``/v1/interactions/{interaction_id}``, never
the raw path, so the series stay few), method and status. Paths no route matches share the
route label ``unmatched``.
"""

import time
from typing import Any

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
        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count and time one request (the labelled series looked up once, then kept)."""
        labels = (route, method, str(status))
        children = self._children.get(labels)
        if children is None:
            children = (self.requests.labels(*labels), self.latency.labels(*labels))
            self._children[labels] = children
        children[0].inc()
        children[1].observe(seconds)


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
        seen = StatusSeen(send)
        try:
            await self.app(scope, receive, seen)
        finally:
            elapsed = time.perf_counter() - start
            self.metrics.observe(_route(scope), scope["method"], seen.status, elapsed)


class StatusSeen:
    """``send``, remembering the status of the response it started (500, what the client
    sees, when the app failed before it answered)."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status = 500

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self._send(message)


def _route(scope: Scope) -> str:
    route = scope.get("route")
    # path_format: the template without converters ({thread_id}, not {thread_id:path})
    path = getattr(route, "path_format", None) if isinstance(route, BaseRoute) else None
    return path if isinstance(path, str) else UNMATCHED
