"""The gateway process: the FastAPI app on uvicorn, hosted by the service runtime in one loop.

The host connects (bounded retries), serves /readyz and /metrics on the ops port, and handles
SIGTERM; this module adds the gateway's queues, the event hub and the HTTP server. Uvicorn
runs as a task of the same loop (``Server.serve`` on a socket bound here, so a port in use is
an error at start-up, with its signal handling left to the host). On SIGTERM, after the
consumers of outcomes and events stop, the server stops accepting connections and lets
in-flight requests finish within ``shutdown_grace_seconds``; the receipts consumer stops only
then, so an answer in flight still gets its receipt.
"""

import asyncio
import contextlib
import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Iterator

import uvicorn
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustChannel
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from hitl.adapters.amqp.connection import amqp_user
from hitl.adapters.amqp.consumer import Consumer
from hitl.adapters.amqp.consumer import consume as consume_queue
from hitl.adapters.amqp.publisher import Publisher
from hitl.adapters.amqp.topology import declare_queue, ensure_broker_queues
from hitl.adapters.redis.apikeys import RedisApiKeys
from hitl.adapters.redis.keys import Keys
from hitl.adapters.redis.link_uses import RedisLinkUses
from hitl.adapters.redis.reads import RedisReads
from hitl.adapters.redis.seen_ids import RedisSeenIds
from hitl.errors import ConfigError
from hitl.gateway.app import create_app
from hitl.gateway.broker_link import AmqpBrokerLink
from hitl.gateway.channels import Channels
from hitl.gateway.creating import HTTP_REPLY_TO
from hitl.gateway.deps import GatewayContext
from hitl.gateway.hub import Hub
from hitl.gateway.keys import CachedApiKeys
from hitl.gateway.signed import SignedReceivers
from hitl.notifiers.secrets import EnvOrFileSecrets
from hitl.notifiers.slack.api import SlackApi
from hitl.observability.metrics import RoutingMetrics
from hitl.ports import Clock
from hitl.runtime.host import ServiceHost
from hitl.runtime.routing import Router
from hitl.settings import Settings
from hitl_contract.wire import Names, outcome_key, queue_arguments

log = logging.getLogger(__name__)


class GatewayService:
    def __init__(self, settings: Settings, *, clock: Clock = time.time) -> None:
        self.settings = settings
        self.names = Names(settings.namespace)
        self.registry = CollectorRegistry()
        self.host = ServiceHost(settings, role="gateway", registry=self.registry)
        self.hub = Hub(self.names, settings.gateway_events_buffer_size)
        self._clock = clock
        self._server: uvicorn.Server | None = None
        self._serving: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None

    @property
    def port(self) -> int:
        """The port the HTTP server listens on (the one picked, with ``gateway_port`` 0)."""
        assert self._socket is not None, "not started"
        return int(self._socket.getsockname()[1])

    async def start(self) -> None:
        """Connect, declare, consume, then serve HTTP; on a failure, close what was opened."""
        await self.host.start_or_close(self._start, self.stop)

    async def _start(self) -> None:
        s, host = self.settings, self.host
        redis = await host.redis()
        keys = Keys(s.namespace, s.shards)
        consume = await host.channel(confirms=False, prefetch=s.prefetch)
        publish = await host.channel(confirms=True)
        await ensure_broker_queues(await host.amqp(), self.names, s.queue_type, s.delivery_limit)
        await self._drain_http_outcomes(consume)
        link, receipts = await self._link(consume, publish)
        await self.hub.start(host)  # its closing step ends the streams: before the drain
        host.on_stop("draining HTTP requests", self._stop_http, s.shutdown_grace_seconds + 1)
        host.on_stop("stopping the receipts consumer", receipts.cancel)
        context = GatewayContext(
            settings=s,
            reads=RedisReads(redis, keys),
            keys=CachedApiKeys(
                RedisApiKeys(redis, keys), cache_seconds=s.gateway_key_cache_seconds
            ),
            hub=self.hub,
            clock=self._clock,
            broker=link,
            ops=HostOps(host),
        )
        if s.routing_file is not None:
            router = self._router()
            secrets = EnvOrFileSecrets()
            seen = RedisSeenIds(redis, keys)
            context.signed = SignedReceivers(router, seen, secrets)
            context.channels = Channels(
                router=router,
                secrets=secrets,
                uses=RedisLinkUses(redis, keys),
                seen=seen,
                slack=SlackApi(secrets),
                link_secret=s.link_secret.get_secret_value().encode() if s.link_secret else None,
            )
        await self._serve(create_app(context, registry=self.registry))
        await host.serve_ops()
        log.info("gateway ready: namespace=%s http://%s:%d", s.namespace, s.gateway_host, self.port)

    def _router(self) -> Router:
        """The routing file (its webhook, email and Slack receivers), reloaded as the broker
        reloads it."""
        s, host = self.settings, self.host
        assert s.routing_file is not None
        router = Router(s.routing_file, s.default_route, RoutingMetrics(self.registry))
        host.spawn("routing file watch", lambda stop: router.watch(stop, s.routing_watch_seconds))
        return router

    async def _drain_http_outcomes(self, channel: AbstractRobustChannel) -> None:
        """The durable reply queue of requests created over HTTP: outcomes always have a place
        to go; the gateway reads them from the store, so the messages are only acked."""
        s = self.settings
        queue = await declare_queue(
            channel,
            self.names.reply_queue(HTTP_REPLY_TO),
            queue_arguments(self.names, s.queue_type, s.delivery_limit),
        )
        await queue.bind(self.names.outcomes, outcome_key(HTTP_REPLY_TO))
        await self.host.consume(channel, queue, _ignore, source="http outcomes", on_failure=_drop)

    async def _link(
        self, consume: AbstractRobustChannel, publish: AbstractRobustChannel
    ) -> tuple[AmqpBrokerLink, Consumer]:
        """The link to the broker, with this replica's own receipts queue and its consumer
        (stopped after the HTTP drain, not with the host's consumers before it)."""
        s, host = self.settings, self.host
        queue = await consume.declare_queue(
            _receipts_queue(self.names), exclusive=True, auto_delete=True
        )
        publisher = Publisher(
            publish, confirm_timeout=s.gateway_receipt_timeout_seconds, fast=s.amqp_fast_path
        )
        link = AmqpBrokerLink(
            publisher, self.names, queue.name, user_id=amqp_user(await host.amqp())
        )

        # Not acked: the queue is this replica's alone and goes with its connection, so an ack
        # would protect nothing (a receipt lost with the connection is a 504 either way), and
        # it cost a frame written and read per answer.
        consumer = await consume_queue(
            consume, queue, link.on_receipt, fast=s.amqp_fast_path, no_ack=True
        )
        host.check(f"consumer of {queue.name}", lambda: _attached(consumer))
        return link, consumer

    async def _serve(self, app: FastAPI) -> None:
        s = self.settings
        try:
            self._socket = socket.create_server((s.gateway_host, s.gateway_port), backlog=2048)
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on {s.gateway_host}:{s.gateway_port}: {exc.strerror}; "
                "set HITL_GATEWAY_HOST / HITL_GATEWAY_PORT"
            ) from exc
        config = uvicorn.Config(
            app,
            http="httptools",
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=math.ceil(s.shutdown_grace_seconds),
        )
        server = _HostedServer(config)
        self._server = server
        self._serving = asyncio.create_task(server.serve([self._socket]), name="gateway-http")
        while not server.started:
            if self._serving.done():
                self._serving.result()
                raise ConfigError("the HTTP server stopped while starting")
            await asyncio.sleep(0.01)
        self.host.check("http server", lambda: None if not self._serving_done() else "stopped")
        self.host.check(
            "stopping", lambda: "shutting down" if self.host.stopping.is_set() else None
        )

    def _serving_done(self) -> bool:
        return self._serving is None or self._serving.done()

    async def _stop_http(self) -> None:
        """Stop accepting connections, let in-flight requests finish (uvicorn cancels what is
        left after the grace period), then close the socket."""
        if self._server is not None and self._serving is not None:
            self._server.should_exit = True
            with contextlib.suppress(Exception):
                await self._serving
        if self._socket is not None:
            self._socket.close()

    async def stop(self) -> None:
        await self.host.stop()
        if not self._serving_done():  # start failed after serving began
            await self._stop_http()

    async def run_until_signalled(self) -> None:
        await self.host.run_until_signalled(self.start)


class HostOps:
    """``deps.Ops`` from the service host: its readiness checks and its registry."""

    def __init__(self, host: ServiceHost) -> None:
        self._host = host

    async def report(self) -> list[tuple[str, str | None]]:
        return await self._host.readiness.report()

    async def scrape(self) -> bytes:
        return await self._host.scrape()


class _HostedServer(uvicorn.Server):
    """Uvicorn without its own signal handlers: the host's stop the process."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _receipts_queue(names: Names) -> str:
    """Unique per process, and readable in RabbitMQ's management UI."""
    instance = f"{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    return f"{names.namespace}.gateway.receipts.{instance}"


def _attached(consumer: Consumer) -> str | None:
    return None if consumer.attached else "not attached (RabbitMQ cancelled it?)"


async def _ignore(message: AbstractIncomingMessage) -> None:
    """An outcome of a request created over HTTP: already in the store; acked by the host."""


async def _drop(message: AbstractIncomingMessage, source: str, exc: Exception) -> None:
    await message.reject(requeue=False)
