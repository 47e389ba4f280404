"""``hitl notifier CHANNEL``: one channel's process, hosted by the service runtime.

It reads the routing file (as the broker does, reloaded the same way), and for each receiver
of its channel type consumes that receiver's own queue (``<ns>.notifier.<receiver>``, bound
to ``<receiver>.*`` on the notifications exchange) with ``notifier_concurrency`` deliveries
in flight, so a receiver that hangs never slows the others. Each notification goes through the
shared pipeline (``delivery.Deliverer``); the delivery is acked once it is delivered, handed
to a fallback, or dead-lettered. The final lifecycle events (``<ns>.notifier-settled.<type>``)
drive the updates of what was shown (``updates.Updater``), with the ``claimed`` and
``released`` events for a channel that shows claims (Slack). A receiver added to the file is
consumed after the reload; one removed stops being routed to by the brokers, and what is left
in its queue is dead-lettered with the reason.

A notifier may serve some receivers of its type only (``receivers``: the operator console
serves its operator's), and hear the settled events on a queue of its own that lives as long
as the process (``own_updates``): a channel whose messages live in the process (the console's
screen) must hear every settled event, where replicas of a channel that sends elsewhere share
one durable queue and update each message once.
"""

import asyncio
import contextlib
import functools
import logging
import signal
import time
from collections.abc import Collection
from uuid import UUID

from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError

from hitl.adapters.amqp.publisher import Publisher
from hitl.adapters.amqp.topology import (
    declare_notifier_queue,
    declare_private_settled_queue,
    declare_settled_queue,
    ensure_broker_queues,
)
from hitl.adapters.redis.delivery_log import RedisDeliveryLog
from hitl.adapters.redis.keys import Keys
from hitl.core.routing.config import AnyReceiver, RoutingConfig
from hitl.core.routing.tree import RequestFields, fallback_for
from hitl.errors import ConfigError
from hitl.notifiers.delivery import Deliverer, Job, RetryPolicy, Sleep
from hitl.notifiers.escape import FELL_BACK_FROM, AmqpEscape
from hitl.notifiers.metrics import NotifierMetrics
from hitl.notifiers.port import Channel, Sent, ShowsClaims
from hitl.notifiers.updates import Updater
from hitl.observability.tracing import Tracing, for_service
from hitl.ports import Clock, InteractionReads
from hitl.runtime.host import ServiceHost
from hitl.runtime.routing import Router
from hitl.runtime.stores import redis_store
from hitl.settings import Settings
from hitl_contract import LifecycleEventName, LifecycleEvents, Notification
from hitl_contract.wire import Names

log = logging.getLogger(__name__)
_CLAIM_EVENTS = (LifecycleEventName.CLAIMED, LifecycleEventName.RELEASED)


class NotifierService:
    def __init__(
        self,
        settings: Settings,
        channel: Channel,
        *,
        metrics: NotifierMetrics | None = None,
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
        receivers: Collection[str] | None = None,
        own_updates: bool = False,
    ) -> None:
        self.settings = settings
        self.channel = channel
        self.only = frozenset(receivers) if receivers is not None else None
        self.own_updates = own_updates
        self.names = Names(settings.namespace)
        self.metrics = metrics or NotifierMetrics()
        self.host = ServiceHost(
            settings, role=f"notifier-{channel.type}", registry=self.metrics.registry
        )
        self._clock = clock
        self._sleep = sleep
        self._attached: set[str] = set()
        self._attaching: set[asyncio.Task[None]] = set()
        self.router: Router | None = None
        self._deliverer: Deliverer | None = None
        self.tracing = Tracing()  # for_service(settings) once started
        self._updater: Updater | None = None
        self._escape: AmqpEscape | None = None

    async def start(self) -> None:
        await self.host.start_or_close(self._start)

    async def _start(self) -> None:
        s, host = self.settings, self.host
        if s.routing_file is None:
            raise ConfigError(
                "hitl notifier delivers to the receivers of a routing file: set "
                "HITL_ROUTING_FILE (docs/routing.md)"
            )
        self.router = router = Router(s.routing_file, s.default_route, self.metrics.routing)
        redis = await host.redis()
        store = redis_store(redis, s)
        delivery_log = RedisDeliveryLog(redis, Keys(s.namespace, s.shards))
        publish = await host.channel(confirms=True)
        self._escape = AmqpEscape(Publisher(publish, fast=s.amqp_fast_path), self.names)
        policy = RetryPolicy(attempts=s.notifier_attempts, cap=s.notifier_retry_cap_seconds)
        common = {
            "clock": self._clock,
            "sleep": self._sleep,
            "remember_seconds": s.retention_seconds,
        }
        self._updater = updater = Updater(
            self.channel, store, delivery_log, store, self._receiver, self.metrics,
            **common,  # type: ignore[arg-type]
        )  # fmt: skip

        async def late(job: Job, sent: Sent) -> None:
            state = await store.load(job.notification.interaction_id)
            if state is not None and state.outcome is not None:
                await updater.shown(job.receiver.name, sent, state.outcome)

        self.tracing = tracing = for_service(s, "notifier")

        async def flush_spans() -> None:
            tracing.shutdown()

        host.on_stop("flushing spans", flush_spans)
        self._deliverer = Deliverer(
            self.channel, delivery_log, store, _Settled(store), self._escape, self.metrics,
            policy=policy, late=late, tracing=tracing, **common,  # type: ignore[arg-type]
        )  # fmt: skip
        self._check_receivers(router.config)
        await ensure_broker_queues(await host.amqp(), self.names, s.queue_type, s.delivery_limit)
        setup = await host.channel(confirms=False, prefetch=s.notifier_concurrency)
        claims = isinstance(self.channel, ShowsClaims)  # it hears claimed/released too
        if self.own_updates:
            settled = await declare_private_settled_queue(setup, self.names, claims=claims)
        else:
            settled = await declare_settled_queue(
                setup, self.names, self.channel.type, s.queue_type, s.delivery_limit,
                claims=claims,
            )  # fmt: skip
        await host.consume(setup, settled, self._on_settled, source="settled", on_failure=_drop)
        self.metrics.start_channel(self.channel.type)
        await self._attach_all(router.config)
        router.on_reload(self._attach_later)
        host.spawn("routing file watch", lambda stop: router.watch(stop, s.routing_watch_seconds))
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
            loop.add_signal_handler(signal.SIGHUP, router.reload, "SIGHUP")

            async def forget_sighup() -> None:
                loop.remove_signal_handler(signal.SIGHUP)

            host.on_stop("removing the SIGHUP handler", forget_sighup)
        host.on_stop(f"closing the {self.channel.type} channel", self.channel.close)
        await host.serve_ops()
        log.info("notifier %s ready: receivers %s", self.channel.type, sorted(self._attached))

    @property
    def receivers(self) -> set[str]:
        """The receivers whose queues this notifier consumes."""
        return set(self._attached)

    def _check_receivers(self, config: RoutingConfig | None) -> None:
        assert config is not None
        if self.only is None:
            return
        mine = sorted(r.name for r in config.receivers if r.type == self.channel.type)
        missing = sorted(self.only - set(mine))
        if missing:
            raise ConfigError(
                f"the routing file has no {self.channel.type} receiver named "
                f"{', '.join(missing)}; its {self.channel.type} receivers: "
                f"{', '.join(mine) or 'none'}"
            )

    def _serves(self, receiver: AnyReceiver) -> bool:
        return receiver.type == self.channel.type and (
            self.only is None or receiver.name in self.only
        )

    async def _attach_all(self, config: RoutingConfig | None) -> None:
        assert config is not None
        s = self.settings
        for receiver in config.receivers:
            if not self._serves(receiver) or receiver.name in self._attached:
                continue
            channel = await self.host.channel(confirms=False, prefetch=s.notifier_concurrency)
            queue = await declare_notifier_queue(
                channel, self.names, receiver.name, s.queue_type, s.delivery_limit
            )
            handler = functools.partial(self._on_notification, receiver.name)
            await self.host.consume(
                channel, queue, handler, source=f"receiver {receiver.name}", on_failure=_drop
            )
            self._attached.add(receiver.name)
            self.metrics.start_receiver(self.channel.type, receiver.name)

    def _attach_later(self, config: RoutingConfig) -> None:
        task = asyncio.get_running_loop().create_task(self._attach_all(config))
        self._attaching.add(task)
        task.add_done_callback(self._attaching.discard)

    def _receiver(self, name: str) -> AnyReceiver | None:
        config = self.router.config if self.router else None
        found = [r for r in (config.receivers if config else []) if r.name == name]
        return found[0] if found and self._serves(found[0]) else None

    async def _on_notification(self, name: str, message: AbstractIncomingMessage) -> None:
        assert self._deliverer is not None
        assert self._escape is not None
        assert self.router is not None
        assert self.router.config is not None
        try:
            note = Notification.model_validate_json(message.body)
        except ValidationError as exc:
            log.warning("a message on %s's queue is not a notification, dropped: %s", name, exc)
            return
        receiver = self._receiver(name)
        request = note.request
        fields = RequestFields(
            request.kind, request.node_name, request.requester.id, request.thread_id,
            dict(request.labels),
        )  # fmt: skip
        # A notification that is a fallback already is not handed on again when it fails.
        fell_back = FELL_BACK_FROM in (message.headers or {})
        fallback = None if fell_back else fallback_for(self.router.config, fields, name)
        message_id = message.message_id or f"notification:{note.interaction_id}:{name}"
        if receiver is None:
            reason = f"it is no longer a {self.channel.type} receiver of the routing file"
            await self._escape.dead_letter(note, message_id, name, reason)
            self.metrics.deliveries.labels(self.channel.type, name, "undelivered").inc()
            return
        trace = self.tracing.incoming(message.headers) if message.headers else None
        await self._deliverer.deliver(Job(note, message_id, receiver, fallback, trace))

    async def _on_settled(self, message: AbstractIncomingMessage) -> None:
        assert self._updater is not None
        try:
            batch = LifecycleEvents.model_validate_json(message.body)
        except ValidationError as exc:
            log.warning("unreadable lifecycle events, skipped: %s", exc)
            return
        # At once, not one after another: a receiver slow to update (retries, a hanging
        # endpoint) must not hold the updates of the batch's other interactions.
        updater = self._updater
        claims = {e.interaction_id for e in batch.events if e.event in _CLAIM_EVENTS}
        await asyncio.gather(
            *(updater.settled(e.outcome) for e in batch.events if e.outcome),
            *(updater.claim_changed(iid) for iid in claims if iid is not None),
        )

    async def stop(self) -> None:
        await self.host.stop()

    async def run_until_signalled(self) -> None:
        await self.host.run_until_signalled(self.start)


class _Settled:
    """Whether an interaction is decided (or gone): then nobody needs a notification."""

    def __init__(self, reads: InteractionReads) -> None:
        self._reads = reads

    async def is_settled(self, interaction_id: UUID) -> bool:
        state = await self._reads.load(interaction_id)
        return state is None or not state.is_pending


async def _drop(message: AbstractIncomingMessage, source: str, exc: Exception) -> None:
    """A bug on one message: it goes to the dead-letter queue through RabbitMQ (x-death)."""
    log.error("notifier failed on a message from %s, rejecting it: %r", source, exc)
    with contextlib.suppress(Exception):
        await message.reject(requeue=False)
