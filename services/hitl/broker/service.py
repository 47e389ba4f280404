"""The broker process: its topology, consumers and poller, hosted by the service runtime.

The runtime (``hitl.runtime.ServiceHost``) connects with bounded retries, acks each delivery
once its handler returned, serves /metrics and /readyz, and drains on SIGTERM; this module says
what the broker adds: the queues it declares, the handlers of each, the deadline poller, what a
bug on a message means (the message is parked in the dead-letter queue), and what to flush
before closing (lingering lifecycle events, outbox deletes).
"""

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable

from aio_pika.abc import AbstractIncomingMessage

from hitl.adapters.amqp.publisher import Publisher
from hitl.adapters.amqp.store_log import declare_store_log, read_store_log
from hitl.adapters.amqp.topology import declare_broker_topology
from hitl.adapters.redis.store import RedisStore
from hitl.broker.assembly import Broker
from hitl.broker.inbound import received
from hitl.broker.integrity import StoreGuard
from hitl.observability.metrics import Metrics
from hitl.observability.tracing import for_service
from hitl.ports import Clock
from hitl.runtime.host import ServiceHost
from hitl.runtime.ops import OpsServer
from hitl.runtime.stores import redis_store
from hitl.settings import Settings
from hitl_contract import ErrorCode, ErrorDetail
from hitl_contract.wire import Names

log = logging.getLogger(__name__)


class BrokerService:
    def __init__(
        self, settings: Settings, *, metrics: Metrics | None = None, clock: Clock = time.time
    ) -> None:
        self.settings = settings
        self.names = Names(settings.namespace)
        self.metrics = metrics or Metrics()
        self.host = ServiceHost(settings, role="broker", registry=self.metrics.registry)
        self._clock = clock
        self.broker: Broker | None = None
        self.store: RedisStore | None = None
        self.guard: StoreGuard | None = None

    async def start(self) -> None:
        """Connect, declare, consume; on a failure, close what was opened, then raise."""
        await self.host.start_or_close(self._start)

    async def _start(self) -> None:
        s, host = self.settings, self.host
        self.store = store = redis_store(await host.redis(), s, watched=True)
        consume = await host.channel(confirms=False, prefetch=s.prefetch)
        publish = await host.channel(confirms=True)
        requests, responses = await declare_broker_topology(
            consume, self.names, s.queue_type, s.delivery_limit
        )
        await declare_store_log(consume, self.names, s.retention_seconds)
        sink = Publisher(publish, fast=s.amqp_fast_path)
        tracing = for_service(s, "broker")
        broker = Broker.assemble(
            s, store=store, sink=sink, clock=self._clock, metrics=self.metrics, tracing=tracing
        )
        self.broker = broker
        broker.start()
        await self._guard_store(store, sink, broker)
        host.spawn("deadline poller", broker.poller.run)
        if s.routing_file is not None:
            router = broker.router
            host.spawn(
                "routing file watch", lambda stop: router.watch(stop, s.routing_watch_seconds)
            )
            loop = asyncio.get_running_loop()
            with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
                loop.add_signal_handler(signal.SIGHUP, router.reload, "SIGHUP")

                async def forget_sighup() -> None:
                    loop.remove_signal_handler(signal.SIGHUP)

                host.on_stop("removing the SIGHUP handler", forget_sighup)
        host.on_stop("sending the last lifecycle events", broker.send_lingering_events)
        host.on_stop("flushing outbox deletes", broker.flush_outbox_deletes)

        async def flush_spans() -> None:
            tracing.shutdown()

        host.on_stop("flushing spans", flush_spans)
        guard = self.guard
        assert guard is not None

        async def on_response(message: AbstractIncomingMessage) -> None:
            await guard.wait_open()  # while fenced, answers wait here, unapplied
            await broker.handlers.on_response(message)

        for queue, handler, source in (
            (requests, broker.handlers.on_request, "requests"),
            (responses, on_response, "responses"),
        ):
            timed = self.metrics.timed(source)(handler)
            await host.consume(consume, queue, timed, source=source, on_failure=self._park)
        await host.serve_ops()
        log.info(
            "broker ready: namespace=%s queues=%s,%s", s.namespace, requests.name, responses.name
        )

    async def _guard_store(self, store: RedisStore, sink: Publisher, broker: Broker) -> None:
        """Store integrity (broker/integrity.py): greet Redis, reconcile first if this broker
        meets a new Redis process, fence timers and answers while the store may miss data."""
        assert store.watch is not None
        guard = StoreGuard(
            store,
            store.watch,
            self.metrics,
            sink,
            self.names,
            self._clock,
            default_route=self.settings.default_route,
        )
        self.guard = guard
        amqp = await self.host.amqp()
        names = self.names

        async def read_log(since: float | None, handle: Callable[..., None]) -> int:
            return await read_store_log(amqp, names, since, handle)

        guard.connect(read_log, broker.handlers.on_request)
        broker.poller.gate = guard.tick
        self.host.check("store integrity", guard.problem)
        self.host.on_stop("stopping the store integrity checks", guard.close)
        await guard.start()

    async def _park(self, message: AbstractIncomingMessage, source: str, exc: Exception) -> None:
        """A bug on one message: park it where an operator looks, keep consuming the rest."""
        assert self.broker is not None
        detail = ErrorDetail(code=ErrorCode.INTERNAL, message=f"broker failed: {exc!r}"[:500])
        try:
            original, reply = received(message)
            await self.broker.dead_letters.dead_letter(original, detail, source, reply=reply)
            await message.ack()
        except Exception:
            log.exception("could not dead-letter; leaving it to redelivery")
            with contextlib.suppress(Exception):
                await message.nack(requeue=True)

    @property
    def ops(self) -> OpsServer | None:
        return self.host.ops

    async def not_ready(self) -> list[tuple[str, str]]:
        return await self.host.not_ready()

    async def stop(self) -> None:
        await self.host.stop()

    async def run_until_signalled(self) -> None:
        await self.host.run_until_signalled(self.start)
