"""What every route depends on: the gateway's context and the caller's key, as FastAPI
dependencies (``Depends``), never imported globals, so tests build an app with their own.

Routers read ``context(request)`` for the read port, the key store, the event hub, the link
to the broker, the ops checks and the clock, and declare ``Depends(require(Scope.READ))`` (or
another scope) to get the ``Principal`` the request's API key stands for.
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from fastapi import Request
from prometheus_client import CollectorRegistry, generate_latest

from hitl.errors import TransportError
from hitl.gateway.problems import Problem

if TYPE_CHECKING:
    from hitl.gateway.channels import Channels
    from hitl.gateway.signed import SignedReceivers
from hitl.ports import Clock, InteractionReads
from hitl.settings import Settings
from hitl_contract import (
    HumanResponse,
    Identity,
    InteractionClaim,
    InteractionRequest,
    LifecycleEvent,
    ResponseReceipt,
)


class Scope(StrEnum):
    READ = "read"  # list, show, history, stream, stats
    RESPOND = "respond"  # answer and cancel as the key's identity
    REQUEST = "request"  # create requests (producers without AMQP)
    ADMIN = "admin"  # everything, and key management


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request's API key stands for. Every decision made through the gateway carries
    ``identity`` (never an identity from the request body)."""

    key_id: str
    identity: Identity
    scopes: frozenset[Scope]
    channel: str = "http"  # the answers' channel, unless the key names another
    # The identity is one a sender vouches for (a webhook receiver naming its person), not one
    # a key or the operator's config proves: it may not be the requester's, whose answer
    # decides at once whatever the decision policy.
    vouched: bool = False

    def allows(self, scope: Scope) -> bool:
        return scope in self.scopes or Scope.ADMIN in self.scopes


class EventsMissed(Exception):
    """Raised by a subscription whose stream has a hole: the ``last_event_id`` it resumes from
    is no longer held, or events were lost (the hub's queue was gone for a while). The
    subscriber's client should re-read the state it cares about; a new subscription goes on
    from now."""


class SubscriberDropped(Exception):
    """Raised by a subscription that fell too far behind: it was dropped, with what it had
    not read yet, so it never holds back other subscribers nor grows without bound. Its
    client reconnects with its last event id and resumes if the hub still holds it."""


class EventHub(Protocol):
    """Lifecycle events as the gateway sees them (consumed from ``<ns>.events``)."""

    def subscribe(
        self, last_event_id: str | None = None
    ) -> AsyncIterator[tuple[str, LifecycleEvent]]:
        """(stream id, event) pairs from now on, or from after ``last_event_id`` when the hub
        still holds it. The subscription starts when this returns (events published before
        the first read are not missed). Iterating raises ``EventsMissed`` or
        ``SubscriberDropped`` as those say, and ends when the hub stops."""
        ...

    async def wait_final(self, interaction_id: str, timeout: float) -> bool:
        """Wait until the interaction's outcome is known (resolved, cancelled, timed_out
        event seen); False when ``timeout`` passed first."""
        ...


class BrokerLink(Protocol):
    """How the gateway hands the broker what only the broker may write."""

    async def answer(self, response: HumanResponse, timeout: float) -> ResponseReceipt:
        """Publish an answer (confirmed) and wait for its receipt; ``TimeoutError`` when none
        came within ``timeout`` (the answer may still be applied), ``TransportError`` when
        RabbitMQ did not take it."""
        ...

    async def request(self, request: InteractionRequest) -> None:
        """Publish a request (confirmed); ``TransportError`` when RabbitMQ did not take it."""
        ...

    async def claim(self, claim: InteractionClaim, timeout: float) -> ResponseReceipt:
        """Publish a claim or release (confirmed) and wait for its receipt, as ``answer``."""
        ...


class Ops(Protocol):
    """What /readyz and /metrics report: the process's readiness checks and metrics."""

    async def report(self) -> list[tuple[str, str | None]]:
        """(component, what is wrong or None) for every readiness check."""
        ...

    async def scrape(self) -> bytes:
        """The Prometheus exposition of the process's metrics."""
        ...


class NoBroker:
    """The link of a context that serves reads only: every write is a 503."""

    async def answer(self, response: HumanResponse, timeout: float) -> ResponseReceipt:
        raise TransportError("this gateway has no link to the broker")

    async def request(self, request: InteractionRequest) -> None:
        raise TransportError("this gateway has no link to the broker")

    async def claim(self, claim: InteractionClaim, timeout: float) -> ResponseReceipt:
        raise TransportError("this gateway has no link to the broker")


@dataclass(frozen=True, slots=True)
class RegistryOps:
    """``Ops`` of an app with no readiness checks of its own: always ready."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    async def report(self) -> list[tuple[str, str | None]]:
        return []

    async def scrape(self) -> bytes:
        return generate_latest(self.registry)


@dataclass
class GatewayContext:
    settings: Settings
    reads: InteractionReads
    keys: "ApiKeys"
    hub: EventHub
    clock: Clock
    broker: BrokerLink = field(default_factory=NoBroker)
    ops: Ops = field(default_factory=RegistryOps)
    # The webhook receivers whose signed answers the gateway takes (HITL_ROUTING_FILE).
    signed: "SignedReceivers | None" = None
    # Answers from email links and Slack (HITL_ROUTING_FILE's email and slack receivers).
    channels: "Channels | None" = None

    @property
    def max_body_bytes(self) -> int:
        s = self.settings
        return s.gateway_max_body_bytes or s.max_payload_bytes


def context(request: Request) -> GatewayContext:
    ctx: GatewayContext = request.app.state.context
    return ctx


Dependency = Callable[..., Awaitable[Principal]]


class ApiKeys(Protocol):
    """API keys, kept hashed where every gateway replica reads them."""

    async def authenticate(self, token: str) -> Principal | None:
        """The principal of a presented key; None when it is unknown or revoked."""
        ...


def require(scope: Scope) -> Dependency:
    """A dependency that admits requests whose API key (``Authorization: Bearer <key>`` or
    ``X-API-Key``) is valid and has ``scope``: 401 without a valid key, 403 without the scope."""

    async def principal(request: Request) -> Principal:
        headers = request.headers
        presented = presented_key(headers.get("authorization"), headers.get("x-api-key"))
        return await authorize(context(request).keys, presented, scope)

    return principal


async def authorize(keys: "ApiKeys", token: str | None, scope: Scope) -> Principal:
    """The principal of a presented key (``presented_key``) that has ``scope``; a 401
    ``Problem`` without a valid key, a 403 without the scope."""
    if token is None:
        raise Problem(
            401,
            "unauthenticated",
            "API key required",
            "send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
            headers={"WWW-Authenticate": 'Bearer realm="hitl"'},
        )
    who = await keys.authenticate(token)
    if who is None:
        raise Problem(
            401,
            "unauthenticated",
            "Unknown or revoked API key",
            "the key was not found: it may be mistyped, revoked, or from another namespace",
            headers={"WWW-Authenticate": 'Bearer realm="hitl", error="invalid_token"'},
        )
    if not who.allows(scope):
        raise Problem(
            403,
            "forbidden",
            "Missing scope",
            f"this key has scopes {sorted(who.scopes)}; this needs '{scope}'",
            allowed=[str(scope), str(Scope.ADMIN)],
            got=sorted(who.scopes),
        )
    return who


def presented_key(authorization: str | None, x_api_key: str | None) -> str | None:
    """The key a request presents, from its ``Authorization: Bearer`` or ``X-API-Key``
    header (the first header of each name)."""
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return x_api_key.strip() if x_api_key and x_api_key.strip() else None
