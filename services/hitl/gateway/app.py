"""The gateway's FastAPI application: one router per resource, the error handlers, the body
checks and the HTTP metrics, around a ``GatewayContext`` it is given (never one it imports),
so a test builds an app on its own servers, namespace or in-memory twins.
"""

import importlib.metadata
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from starlette.types import Receive, Scope, Send

from hitl.core.tracecontext import TraceContext
from hitl.gateway import handlers, inbox, openapi
from hitl.gateway.answer_lane import AnswerLane, answer_id
from hitl.gateway.bodies import BodyCheck, BodyLimits
from hitl.gateway.deps import GatewayContext
from hitl.gateway.metrics import HttpMetrics, MeasureRequests
from hitl.gateway.problems import ProblemDetail
from hitl.gateway.routers import (
    email_links,
    events,
    interactions,
    ops,
    slack,
    stats,
    threads,
    webhooks,
)
from hitl.gateway.signed import SignedAnswer
from hitl.observability.tracing import Tracing, carrying

ROUTERS = (
    interactions.router,
    threads.router,
    events.router,
    stats.router,
    webhooks.router,
    ops.router,
    email_links.router,  # HTML pages for people; not in the OpenAPI document
    slack.router,  # Slack's interactivity requests; not in the OpenAPI document
)
# Bodies taken as HTML forms (application/x-www-form-urlencoded), not JSON.
FORMS = (inbox.PREFIX, email_links.router.prefix + "/", slack.PATH)
DESCRIPTION = """\
The HTTP side of hitl: list and read interactions with their history, answer and cancel them
as the API key's identity, create requests without an AMQP client, follow lifecycle events,
and read analytics. Every error is RFC 9457 `application/problem+json`.

Authenticate with `Authorization: Bearer <key>` (or `X-API-Key: <key>`); keys come from
`hitl keys create`. The gateway never writes interaction state: answers go to the broker, and
the response says what its receipt said.
"""


class GatewayApp(FastAPI):
    """FastAPI, with answers (``POST /v1/interactions/{id}/responses``) taken by the answer
    lane first when it has one (``hitl.gateway.answer_lane``)."""

    answer_lane: AnswerLane | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # What the request publishes (an answer, a new request) carries its trace context.
        with carrying(http_trace(scope) if scope["type"] == "http" else None):
            if self.answer_lane is not None:
                interaction_id = answer_id(scope)
                if interaction_id is not None:
                    await self.answer_lane(interaction_id, scope, receive, send)
                    return
            await super().__call__(scope, receive, send)


def http_trace(scope: Scope) -> TraceContext | None:
    """The W3C trace context of an HTTP request (its ``traceparent`` and ``tracestate``
    headers); None without one, or with a malformed one (logged at debug level)."""
    found = {
        name.decode(): value.decode("latin-1")
        for name, value in scope["headers"]
        if name in _TRACE_HEADERS
    }
    return _PASSED_ON.incoming(found) if found else None


_TRACE_HEADERS = (b"traceparent", b"tracestate")
_PASSED_ON = Tracing()  # the gateway makes no spans of its own; it passes the context on


def create_app(
    context: GatewayContext,
    *,
    registry: CollectorRegistry | None = None,
    answer_lane: bool = True,
) -> GatewayApp:
    """The app serving ``context``; its HTTP metrics go to ``registry`` (the host's, so
    /metrics shows them beside the runtime's). Without ``answer_lane``, answers go through
    FastAPI's route like every other request (the tests compare the two)."""
    app = _application()
    app.state.context = context
    metrics = HttpMetrics(registry or CollectorRegistry())
    app.add_middleware(BodyLimits, max_bytes=context.max_body_bytes, forms_under=FORMS)
    app.add_middleware(MeasureRequests, metrics=metrics)
    if answer_lane:
        check = BodyCheck(context.max_body_bytes, FORMS)
        app.answer_lane = AnswerLane(context, check, metrics)
    return app


def openapi_document() -> dict[str, Any]:
    """The published OpenAPI document (schemas/openapi.json); needs no servers."""
    return _application().openapi()


def _application() -> GatewayApp:
    app = GatewayApp(
        title="hitl gateway",
        version=importlib.metadata.version("hitl"),
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
    )
    for router in ROUTERS:
        app.include_router(router)
    inbox.install(app)  # the web inbox: HTML pages, not part of the OpenAPI document
    handlers.install(app)
    document: dict[str, Any] = {}

    def published() -> dict[str, Any]:
        if not document:
            document.update(openapi.document(app, ProblemDetail, SignedAnswer))
        return document

    app.openapi = published  # type: ignore[method-assign]
    return app
