"""The webhook channel: POSTs each notification, signed per Standard Webhooks, to a receiver's
URL, and a second signed event once the interaction is settled.

Made of the pieces in ``hitl.notifiers.webhooks``: the bodies and their ids (``payloads``), the
signatures (``signing``), where a request may go (``destinations``), what an answer means
(``replies``) and the keep-alive clients (``clients``). docs/channels-webhook.md is what a
receiver needs to know.

Every attempt is bounded by the receiver's ``timeout``, from resolving its host to the
status line; nothing a receiver does (hang, reset, close mid-answer, answer garbage) escapes
as anything but ``Retryable`` or ``Permanent``.
"""

import asyncio
import contextlib
import time

import httpx

from hitl.core.routing.config import AnyReceiver, WebhookReceiver
from hitl.errors import ConfigError, Permanent, Retryable
from hitl.notifiers.port import Sent
from hitl.notifiers.secrets import EnvOrFileSecrets, SecretResolver
from hitl.notifiers.webhooks import payloads
from hitl.notifiers.webhooks.clients import USER_AGENT, HostClients
from hitl.notifiers.webhooks.destinations import (
    IPAddress,
    Resolver,
    checked_addresses,
    resolve_with_loop,
)
from hitl.notifiers.webhooks.payloads import WebhookEvent
from hitl.notifiers.webhooks.replies import check_status, excerpt
from hitl.notifiers.webhooks.signing import signature, signer
from hitl.observability.tracing import carried_headers
from hitl.ports import Clock
from hitl_contract import InteractionOutcome, Notification

# A 2xx's body is read (up to this much) only so its connection can be kept; an error's start
# is quoted. Either way the status line already said what happened: a body that is slow, cut
# short or too long ends the reading, not the delivery.
_SUCCESS_BODY_BYTES = 64 * 1024
_ERROR_BODY_BYTES = 1024
_BODY_SECONDS = 1.0


class WebhookChannel:
    """``hitl.notifiers.port.Channel`` for ``webhook`` receivers. ``secrets`` resolves the
    receivers' secret references, ``resolver`` their host names (both at send time); ``clock``
    stamps ``webhook-timestamp``."""

    type = "webhook"

    def __init__(
        self,
        *,
        secrets: SecretResolver | None = None,
        resolver: Resolver = resolve_with_loop,
        clients: HostClients | None = None,
        clock: Clock = time.time,
    ) -> None:
        self._secrets = secrets or EnvOrFileSecrets()
        self._resolver = resolver
        self._clients = clients or HostClients()
        self._clock = clock

    async def send(self, receiver: AnyReceiver, notification: Notification) -> Sent:
        event = payloads.requested(notification)
        detail = await self._post(_webhook(receiver), event)
        return Sent(reference=event.webhook_id, detail=detail)

    async def update(self, receiver: AnyReceiver, sent: Sent, outcome: InteractionOutcome) -> None:
        await self._post(_webhook(receiver), payloads.settled(outcome))

    async def close(self) -> None:
        await self._clients.aclose()

    async def _post(self, receiver: WebhookReceiver, event: WebhookEvent) -> str:
        """POSTs one signed event; returns ``HTTP <status>`` for a 2xx, raises ``Retryable``
        or ``Permanent`` (``hitl.notifiers.webhooks.replies``) for anything else."""
        headers = self._headers(receiver, event)
        response = await self._open(receiver, httpx.URL(receiver.url), headers, event.body)
        try:
            success = response.is_success
            limit = _SUCCESS_BODY_BYTES if success else _ERROR_BODY_BYTES
            start = await _body_start(response, limit, min(_BODY_SECONDS, receiver.timeout))
            check_status(response.status_code, response.headers, excerpt(start), self._clock())
        finally:
            await response.aclose()
        return f"HTTP {response.status_code}"

    def _headers(self, receiver: WebhookReceiver, event: WebhookEvent) -> dict[str, str]:
        timestamp = int(self._clock())
        # Names in any case; ours replace theirs. A plain dict of lower-case names, not
        # httpx.Headers: its every lookup and update re-encodes names (2 % of a send).
        headers = {name.lower(): value for name, value in receiver.headers.items()}
        headers.update(
            {
                "content-type": "application/json",
                "user-agent": USER_AGENT,
                "accept-encoding": "identity",  # error bodies are quoted, never decompressed
                "webhook-id": event.webhook_id,
                "webhook-timestamp": str(timestamp),
                **carried_headers(),  # traceparent, tracestate: the notification's context
            }
        )
        refs = receiver.signing_secrets
        if refs:
            try:
                signers = [signer(self._secrets(ref), n) for n, ref in enumerate(refs, 1)]
            except ConfigError as exc:  # names where the secret is, never the secret
                raise Permanent(f"receiver {receiver.name}: {exc}") from exc
            headers["webhook-signature"] = signature(
                signers, event.webhook_id, timestamp, event.body
            )
        return headers

    async def _open(
        self, receiver: WebhookReceiver, url: httpx.URL, headers: dict[str, str], body: bytes
    ) -> httpx.Response:
        """The response, its status line and headers read, its body not yet."""
        name = url.raw_host.decode("ascii")  # IDNA host names are punycode here
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            async with asyncio.timeout(receiver.timeout):
                addresses = await checked_addresses(
                    name, port, self._resolver, allow_private=receiver.allow_private
                )
                client = await self._clients.for_host(name)
                return await _send_to_first(client, url, addresses, headers, body, receiver)
        except TimeoutError as exc:
            raise Retryable(f"no answer from {name} within {receiver.timeout:g} s") from exc


async def _send_to_first(
    client: httpx.AsyncClient,
    url: httpx.URL,
    addresses: list[IPAddress],
    headers: dict[str, str],
    body: bytes,
    receiver: WebhookReceiver,
) -> httpx.Response:
    """Sends to the checked addresses in order until one takes the connection (nothing has
    been sent to one that refused it), never to the name, which could resolve elsewhere now."""
    name = url.raw_host.decode("ascii")
    refused: httpx.ConnectError | None = None
    for address in addresses:
        where = name if str(address) == name else f"{name} ({address})"
        try:
            request = _pinned(client, url, address, headers, body, receiver.timeout)
            return await client.send(request, stream=True)
        except httpx.ConnectError as exc:
            refused = exc
        except httpx.HTTPError as exc:
            raise _failure(exc, where) from exc
        except httpx.InvalidURL as exc:  # an address httpx cannot put in a URL
            raise Permanent(f"the request to {where} cannot be made: {exc}") from exc
    assert refused is not None  # checked_addresses returns at least one address
    tried = ", ".join(str(a) for a in addresses)
    where = name if tried == name else f"{name} ({tried})"
    raise Retryable(f"cannot connect to {where}: {_said(refused)}") from refused


def _pinned(
    client: httpx.AsyncClient,
    url: httpx.URL,
    address: IPAddress,
    headers: dict[str, str],
    body: bytes,
    timeout: float,
) -> httpx.Request:
    """The request to ``url`` sent to ``address``: the name goes in the Host header and, for
    https, in SNI, so the server is asked for the name and its certificate checked against it."""
    name = url.raw_host.decode("ascii")
    if str(address) == name:  # the URL holds the address itself
        return client.build_request("POST", url, content=body, headers=headers, timeout=timeout)
    named = headers.copy()
    named["host"] = name if url.port is None else f"{name}:{url.port}"
    extensions = {"sni_hostname": name} if url.scheme == "https" else {}
    return client.build_request(
        "POST",
        url.copy_with(host=str(address)),
        content=body,
        headers=named,
        timeout=timeout,
        extensions=extensions,
    )


def _failure(exc: httpx.HTTPError, where: str) -> Retryable | Permanent:
    if isinstance(exc, httpx.TimeoutException):
        return Retryable(f"{where} did not answer in time ({_said(exc)})")
    if isinstance(exc, httpx.RemoteProtocolError):  # closed early, or not HTTP at all
        return Retryable(f"{where} broke off or garbled the HTTP exchange: {_said(exc)}")
    if isinstance(exc, httpx.LocalProtocolError | httpx.UnsupportedProtocol):
        return Permanent(f"the request to {where} cannot be made: {_said(exc)}")
    return Retryable(f"the connection to {where} failed: {_said(exc)}")


def _said(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


async def _body_start(response: httpx.Response, limit: int, seconds: float) -> bytes:
    """Up to ``limit`` bytes of the body, or what arrived within ``seconds``."""
    chunks: list[bytes] = []
    size = 0
    empty = response.status_code in (204, 304) or response.headers.get("content-length") == "0"
    with contextlib.suppress(httpx.HTTPError, httpx.StreamError, TimeoutError):
        # No timer for a body that is known to be empty: it ends without a read.
        async with asyncio.timeout(None if empty else seconds):
            async for chunk in response.aiter_raw():
                chunks.append(chunk)
                size += len(chunk)
                if size >= limit:
                    break
    return b"".join(chunks)[:limit]


def _webhook(receiver: AnyReceiver) -> WebhookReceiver:
    if not isinstance(receiver, WebhookReceiver):
        raise TypeError(f"receiver {receiver.name} is a {receiver.type} receiver, not a webhook")
    return receiver
