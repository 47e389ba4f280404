"""The broker process: wiring, consumers, poller, ops endpoint, and graceful shutdown.

Start-up retries the servers a bounded number of times. SIGTERM stops consuming, lets in-flight
handlers finish within the grace period, then closes the channels, the connection and the Redis
pool; a delivery still unacked then is redelivered to another replica, harmlessly.
"""

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Awaitable, Callable

from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractRobustConnection,
)
from redis.asyncio import Redis

from hitl.adapters.amqp.connection import connect_amqp, connect_redis
from hitl.adapters.amqp.consumer import Consumer
from hitl.adapters.amqp.consumer import consume as consume_queue
from hitl.adapters.amqp.publisher import Publisher
from hitl.adapters.amqp.topology import declare_broker_topology
from hitl.adapters.redis.keys import Keys
from hitl.adapters.redis.store import RedisStore
from hitl.broker.answers import AnswerApplier
from hitl.broker.cache import StateCache
from hitl.broker.dispatch import Dispatcher, OutboxJanitor
from hitl.broker.handlers import Handlers
from hitl.broker.poller import Poller
from hitl.broker.rejections import Rejections, received
from hitl.broker.sending import Sender
from hitl.broker.transitions import Committer
from hitl.core.backoff import backoff_delay
from hitl.errors import TransportError
from hitl.observability.http import OpsServer
from hitl.observability.metrics import Metrics
from hitl.settings import Settings
from hitl_contract import ErrorCode, ErrorDetail
from hitl_contract.wire import Names

log = logging.getLogger(__name__)
Handler = Callable[[AbstractIncomingMessage], Awaitable[None]]


class BrokerService:
    def __init__(
        self,
        settings: Settings,
        *,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.names = Names(settings.namespace)
        self.metrics = metrics or Metrics()
        self._clock = clock
        self._stop = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._inflight = 0
        self._connection: AbstractRobustConnection | None = None
        self._redis: Redis | None = None
        self._channels: list[AbstractChannel] = []
        self._consumers: list[Consumer] = []
        self._poller_task: asyncio.Task[None] | None = None
        self._janitor: OutboxJanitor | None = None
        self._sender: Sender | None = None
        self.ops: OpsServer | None = None
        self.store: RedisStore | None = None

    async def start(self) -> None:
        s = self.settings
        self._redis = await connect_redis(
            s.redis_url, s.startup_attempts, max_connections=s.redis_max_connections
        )
        name = f"hitl-broker {socket.gethostname()}:{os.getpid()}"
        self._connection = await connect_amqp(s.amqp_url, s.startup_attempts, name=name)
        store = RedisStore(
            self._redis,
            Keys(s.namespace, s.shards),
            retention_seconds=s.retention_seconds,
            outbox_lease_seconds=s.outbox_lease_seconds,
            script_timeout=s.redis_script_timeout_seconds,
        )
        self.store = store
        consume = await self._connection.channel(publisher_confirms=False)
        publish = await self._connection.channel(publisher_confirms=True)
        self._channels = [consume, publish]
        await consume.set_qos(prefetch_count=s.prefetch)
        requests, responses = await declare_broker_topology(
            consume, self.names, s.queue_type, s.delivery_limit
        )
        publisher = Publisher(publish)
        sender = Sender(publisher, events_linger=s.events_linger_seconds)
        self._sender = sender
        rejections = Rejections(publisher, sender, self.names, self.metrics)
        self._janitor = OutboxJanitor(store)
        self._janitor.start()
        dispatcher = Dispatcher(sender, self._janitor, rejections, self.metrics)
        committer = Committer(
            store, dispatcher, self.names, self.metrics, StateCache(s.state_cache_size)
        )
        answers = AnswerApplier(
            store,
            committer,
            rejections,
            self.metrics,
            self._clock,
            hold_seconds=s.early_answer_hold_seconds,
            max_payload_bytes=s.max_payload_bytes,
        )
        handlers = Handlers(
            committer,
            answers,
            rejections,
            self.metrics,
            self._clock,
            s.max_payload_bytes,
            s.default_route,
            tuple(s.auto_approve),
        )
        self._rejections = rejections
        poller = Poller(
            store,
            committer,
            answers,
            dispatcher,
            self.metrics,
            self._clock,
            interval=s.poll_interval_seconds,
            lease=s.claim_lease_seconds,
            retention_seconds=s.retention_seconds,
        )
        self._poller_task = asyncio.create_task(poller.run(self._stop), name="hitl-poller")
        for queue, handler, source in (
            (requests, handlers.on_request, "requests"),
            (responses, handlers.on_response, "responses"),
        ):
            wrapped = self._guard(self.metrics.timed(source)(handler), source)
            self._consumers.append(await consume_queue(consume, queue, wrapped))
        if s.metrics_port:
            self.ops = OpsServer(self.metrics.registry, self.not_ready_reason)
            await self.ops.start(s.metrics_host, s.metrics_port)
        log.info(
            "broker ready: namespace=%s queues=%s,%s", s.namespace, requests.name, responses.name
        )

    def not_ready_reason(self) -> str | None:
        if self._connection is None or self._connection.is_closed:
            return "RabbitMQ connection closed"
        if any(channel.is_closed for channel in self._channels):
            return "a RabbitMQ channel is closed"
        if len(self._consumers) != 2 or not all(c.attached for c in self._consumers):
            return "consumers not attached"
        if self._poller_task is None or self._poller_task.done():
            return "deadline poller stopped"
        return None

    def _guard(self, handler: Handler, source: str) -> Handler:
        """Count in-flight work for draining; turn failures into redelivery or dead letters."""

        async def guarded(message: AbstractIncomingMessage) -> None:
            self._inflight += 1
            self._idle.clear()
            try:
                await self._with_retries(handler, message)
            except TransportError as exc:
                log.warning("could not process a message from %s, requeueing: %s", source, exc)
                with contextlib.suppress(Exception):
                    await message.nack(requeue=True)
            except Exception as exc:  # a bug: park the message, keep consuming
                log.exception("unexpected failure on a message from %s", source)
                await self._park(message, source, exc)
            finally:
                self._inflight -= 1
                if self._inflight == 0:
                    self._idle.set()

        return guarded

    async def _with_retries(self, handler: Handler, message: AbstractIncomingMessage) -> None:
        """Ride out a short Redis or RabbitMQ outage holding the delivery (not a human wait)."""
        attempt = 0
        while True:
            try:
                await handler(message)
            except TransportError as exc:
                attempt += 1
                if self._stop.is_set() or attempt >= 10:
                    raise
                delay = backoff_delay(attempt, base=0.1, cap=3.0)
                log.warning(
                    "transient failure (try %d), retrying in %.2fs: %s", attempt, delay, exc
                )
                await asyncio.sleep(delay)
            else:
                return

    async def _park(self, message: AbstractIncomingMessage, source: str, exc: Exception) -> None:
        detail = ErrorDetail(code=ErrorCode.INTERNAL, message=f"broker failed: {exc!r}"[:500])
        try:
            original, reply = received(message)
            await self._rejections.dead_letter(original, detail, source, reply=reply)
            await message.ack()
        except Exception:
            log.exception("could not dead-letter; leaving it to redelivery")
            with contextlib.suppress(Exception):
                await message.nack(requeue=True)

    async def stop(self) -> None:
        """Stop consuming, drain in-flight work within the grace period, then close. Every
        step is bounded, so a stuck peer cannot keep the process from exiting."""
        self._stop.set()
        await self._step("cancelling the consumers", self._cancel_consumers(), 2)
        try:
            await asyncio.wait_for(self._idle.wait(), self.settings.shutdown_grace_seconds)
        except TimeoutError:
            log.warning(
                "grace period over with %d messages in flight; they will be redelivered",
                self._inflight,
            )
        if self._poller_task is not None:
            await self._step("stopping the poller", self._poller_task, 2)
        if self._sender is not None:
            await self._step("sending the last lifecycle events", self._sender.drain(), 2)
        if self._janitor is not None:
            await self._step("flushing outbox deletes", self._janitor.stop(), 2)
        if self.ops is not None:
            await self._step("closing the ops endpoint", self.ops.close(), 1)
        for channel in self._channels:
            await self._step("closing a channel", channel.close(), 2)
        if self._connection is not None:
            await self._step("closing the RabbitMQ connection", self._connection.close(), 2)
        if self._redis is not None:
            await self._step("closing the Redis pool", self._redis.aclose(), 1)
        log.info("broker stopped")

    async def _cancel_consumers(self) -> None:
        consumers, self._consumers = self._consumers, []
        for consumer in consumers:  # each on its own: one failing leaves none attached
            try:
                await consumer.cancel()
            except Exception as exc:  # noqa: BLE001 - closing the channel stops it anyway
                log.warning("could not cancel a consumer: %r", exc)

    @staticmethod
    async def _step(what: str, work: Awaitable[object], timeout: float) -> None:
        log.debug("shutdown: %s", what)
        try:
            await asyncio.wait_for(work, timeout)
        except TimeoutError:
            log.warning("shutdown: %s took over %.0fs; going on", what, timeout)
        except Exception as exc:  # noqa: BLE001 - closing anyway: note it and go on
            log.warning("shutdown: %s failed: %r", what, exc)

    async def run_until_signalled(self) -> None:
        """Run until SIGTERM or SIGINT, which are obeyed even while start-up still retries."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        starting = asyncio.create_task(self.start(), name="hitl-start")
        stopping = asyncio.create_task(self._stop.wait(), name="hitl-stop-signal")
        try:
            await asyncio.wait((starting, stopping), return_when=asyncio.FIRST_COMPLETED)
            if starting.done():
                starting.result()  # start-up failed: raise its error
                await stopping
            else:
                log.info("stopped while starting")
                starting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await starting
        finally:
            stopping.cancel()
            log.info("shutting down")
            await self.stop()
