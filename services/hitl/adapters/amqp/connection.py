"""Opening a RabbitMQ connection: aio-pika's robust connection, named for the management UI,
over TLS for an amqps:// URL (``tls`` gives the CA and client certificate files), to one node or
to the first node of a cluster that takes it.

With several URLs (the nodes of one cluster, ``HITL_AMQP_URL=amqp://a:5672/,amqp://b:5672/``)
the connection is a ``ClusterConnection``: aio-pika's ``RobustConnection`` that picks its node
from the list each time it connects. It tries the URLs in order at start; when it loses the node
it is on, it tries the next one at once, then the others in turn, round after round (with
aio-pika's ``reconnect_interval`` between rounds) until one takes it. It stays one connection
object throughout, so the robust channels, queues, bindings and consumers the services hold are
restored on the new node by aio-pika (and hitl's own consumers by their reopen callbacks,
``hitl.adapters.amqp.consumer``) exactly as after a single node's restart. Looping over the URLs
outside ``connect_robust`` instead (a new connection per node) would leave every channel and
consumer on the dead connection, for each service to rebuild. The price is one private hook:
``RobustConnection`` connects through its name-mangled ``__connect_transport``, which
``ClusterConnection`` wraps (aio-pika is pinned below 10.3; a test fails if the hook goes).

At start, the other nodes are tried once (``check_nodes``): one that refuses the login fails
the start (``NodeRefused``), one that does not answer is noted. A node lost and the node taken
over are logged as warnings, with what happens next.

One attempt (one round over the URLs); the runtime's start-up retries (``hitl.runtime.startup``)
wrap it.
"""

import asyncio
import logging
import ssl
import time
from collections.abc import Sequence
from typing import Any

import aio_pika
from aio_pika import RobustConnection
from aio_pika.abc import AbstractConnection, AbstractRobustConnection
from aio_pika.exceptions import (
    CONNECTION_EXCEPTIONS,
    AMQPConnectionError,
    ProbableAuthenticationError,
)
from yarl import URL

from hitl.adapters.tls import TlsFiles

log = logging.getLogger(__name__)

# What a connection attempt raises when RabbitMQ is not there (yet).
AMQP_CONNECT_ERRORS: tuple[type[BaseException], ...] = (OSError, aio_pika.exceptions.AMQPError)
_PROBE_SECONDS = 5.0


class NodeRefused(AMQPConnectionError):
    """A node of the URL list refused the login the first one took."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "a node refused the login"


async def open_amqp(
    url: str | Sequence[str], *, name: str, tls: TlsFiles | None = None
) -> AbstractRobustConnection:
    """A robust connection to the first node of ``url`` (one URL or several, for a cluster)
    that takes it; with several, the others are checked to be of the same cluster."""
    urls = [url] if isinstance(url, str) else list(url)
    context = tls.context() if tls is not None and urls[0].startswith("amqps://") else None
    properties: dict[str, Any] = {"connection_name": name}
    # A reconnect try every second, not aio-pika's 5 s, so consumers are back within about a
    # second of RabbitMQ (or the link) returning; a URL's own ?reconnect_interval= still wins.
    retry: dict[str, Any] = {}
    if "reconnect_interval" not in URL(urls[0]).query:
        retry["reconnect_interval"] = 1.0
    if len(urls) == 1:
        single: AbstractRobustConnection = await aio_pika.connect_robust(
            urls[0], client_properties=properties, ssl_context=context, **retry
        )
        return single
    connection = ClusterConnection(urls, ssl_context=context, client_properties=properties, **retry)
    await connection.connect()
    try:
        await connection.check_nodes()
    except BaseException:
        await connection.close()
        raise
    return connection


class ClusterConnection(RobustConnection):
    """A ``RobustConnection`` over the nodes of one cluster (see the module's docstring)."""

    def __init__(self, urls: Sequence[str], **kwargs: Any) -> None:
        super().__init__(URL(urls[0]), **kwargs)
        self.urls = tuple(URL(u) for u in urls)
        self._next = 0  # where the next round of attempts starts
        self._lost: tuple[str, float] | None = None  # the node lost, when

    def node(self, url: URL | None = None) -> str:
        """A node's URL without its password, for logs."""
        url = url or self.url
        return str(url.with_password("***") if url.password else url)

    async def _RobustConnection__connect_transport(self) -> None:  # noqa: N802 - the hook
        """One round over the URLs, from ``_next``; the last failure if none took it."""
        start = self._next
        failure: BaseException | None = None
        for step in range(len(self.urls)):
            index = (start + step) % len(self.urls)
            self.url = self.urls[index]
            try:
                await super()._RobustConnection__connect_transport()  # type: ignore[misc]
            except CONNECTION_EXCEPTIONS as exc:
                failure = exc
                if step + 1 < len(self.urls):
                    following = self.urls[(index + 1) % len(self.urls)]
                    log.warning(
                        "RabbitMQ node %s did not take the connection (%r); trying %s",
                        self.node(),
                        exc,
                        self.node(following),
                    )
                continue
            self._next = index
            return
        assert failure is not None
        raise failure

    async def _on_connected(self) -> None:
        await super()._on_connected()
        if self._lost is not None:
            lost, since = self._lost
            self._lost = None
            log.warning(
                "reconnected to RabbitMQ node %s %.1fs after losing %s: channels, queues, "
                "bindings and consumers restored; deliveries that were unacked there are "
                "redelivered",
                self.node(),
                time.monotonic() - since,
                lost,
            )

    async def _on_connection_close(self, closing: asyncio.Future[Any]) -> None:
        was_up = self.connected.is_set()
        await super()._on_connection_close(closing)
        if not was_up or self.is_closed or self._close_called:
            return
        index = self.urls.index(self.url) if self.url in self.urls else self._next
        self._next = (index + 1) % len(self.urls)
        self._lost = (self.node(), time.monotonic())
        log.warning(
            "lost RabbitMQ node %s (%s): reconnecting, to %s first, then the other nodes in "
            "turn; meanwhile publishes wait for the new node (their confirms are bounded and a "
            "publish that fails is retried or reported by its caller) and unacked deliveries "
            "go back to their queues",
            self.node(),
            _reason(closing),
            self.node(self.urls[self._next]),
        )

    async def check_nodes(self) -> None:
        """At start: every other URL that answers must take the login (a node whose users or
        vhost differ would fail only at the fail-over, when it is too late to say so); one
        that does not answer now is only noted (a node may be down while a service starts).
        RabbitMQ says nothing over AMQP that tells its cluster reliably (a node reports the
        cluster name it computed at boot, before it joined), so that is not checked."""
        others = [u for u in self.urls if u != self.url]
        answers = await asyncio.gather(*(self._probe(u) for u in others), return_exceptions=True)
        for url, answer in zip(others, answers, strict=True):
            if isinstance(answer, ProbableAuthenticationError):
                raise NodeRefused(
                    f"has a node ({self.node(url)}) that refused the login: {answer}"
                ) from answer
            if answer is not None:
                log.warning(
                    "RabbitMQ node %s does not answer now (%r); it is tried when the node in "
                    "use (%s) is lost",
                    self.node(url),
                    answer,
                    self.node(),
                )

    async def _probe(self, url: URL) -> None:
        async with asyncio.timeout(_PROBE_SECONDS):
            context: ssl.SSLContext | None = self.kwargs.get("context")
            probe = await aio_pika.connect(
                url,
                ssl_context=context,
                client_properties={"connection_name": "hitl node check"},
            )
            await probe.close()


def _reason(closing: asyncio.Future[Any]) -> str:
    try:
        exc = closing.exception()
    except asyncio.CancelledError:
        return "closed"
    return repr(exc) if exc is not None else "closed"


def amqp_user(connection: AbstractConnection) -> str | None:
    """The user ``connection`` logged in as, for the AMQP user-id of what it publishes
    (RabbitMQ refuses a message whose user-id is not its connection's, so a consumer can
    trust it). None when the URL names no user, or with EXTERNAL authentication (the user is
    then the client certificate's, which the URL does not say)."""
    url = getattr(connection, "url", None)  # a yarl URL on aio-pika's Connection
    if url is None or str(url.query.get("auth", "")).lower() == "external":
        return None
    user = url.user
    return str(user) if user else None
