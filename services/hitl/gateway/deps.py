"""What every route depends on: the gateway's context and the caller's key, as FastAPI
dependencies (``Depends``), never imported globals, so tests build an app with their own.

Routers read ``context(request)`` for the read port, the key store, the event hub and the
clock, and declare ``Depends(require(Scope.READ))`` (or another scope) to get the
``Principal`` the request's API key stands for.
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from fastapi import Request

from hitl.gateway.problems import Problem
from hitl.ports import Clock, InteractionReads
from hitl.settings import Settings
from hitl_contract import Identity, LifecycleEvent


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


@dataclass
class GatewayContext:
    settings: Settings
    reads: InteractionReads
    keys: "ApiKeys"
    hub: EventHub
    clock: Clock


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
        token = _presented_key(request)
        if token is None:
            raise Problem(
                401,
                "unauthenticated",
                "API key required",
                "send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                headers={"WWW-Authenticate": 'Bearer realm="hitl"'},
            )
        who = await context(request).keys.authenticate(token)
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

    return principal


def _presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    key = request.headers.get("x-api-key")
    return key.strip() if key and key.strip() else None
