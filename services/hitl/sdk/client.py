"""``HitlClient``: publish interaction requests and await their outcomes.

A correlation map of futures (seed 003's registry) over a durable reply queue per producer
service, so outcomes survive the producer: a restarted producer receives the outcomes of what it
asked before it died through ``on_outcome``, or awaits one by id with ``wait``. Each outcome is
handed to your code once, even when RabbitMQ delivers it twice.

    async with HitlClient.connect(url, service="billing") as hitl:
        request = hitl.new_request("approval", thread_id="run-7", prompt="Pay 500 EUR?")
        outcome = await hitl.ask(request, timeout=3600)
"""

import asyncio
import contextlib
import logging
import os
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any
from uuid import UUID, uuid4

from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection
from pydantic import ValidationError

from hitl.adapters.amqp.acks import ack_at_once
from hitl.adapters.amqp.connection import amqp_user
from hitl.adapters.amqp.consumer import consume as consume_queue
from hitl.adapters.amqp.publisher import Publisher
from hitl.adapters.amqp.topology import declare_queue, ensure_broker_queues, refusal_named
from hitl.core.decoding import REQUEST_ADAPTER
from hitl.core.tracecontext import TraceContext
from hitl.errors import AskTimeout, TransportError
from hitl.observability.tracing import for_client
from hitl.ports import Envelope
from hitl.runtime.startup import connect_amqp
from hitl_contract import HumanResponse, Identity, InteractionOutcome, InteractionRequest
from hitl_contract.wire import (
    DEFAULT_DELIVERY_LIMIT,
    DEFAULT_NAMESPACE,
    DEFAULT_QUEUE_TYPE,
    REQUEST_TYPE,
    RESPONSE_TYPE,
    Names,
    QueueType,
    encode_model,
    outcome_key,
    queue_arguments,
)

log = logging.getLogger(__name__)
OutcomeHandler = Callable[[InteractionOutcome], Awaitable[None]]
_REMEMBERED = 100_000


class HitlClient:
    def __init__(
        self,
        connection: AbstractRobustConnection,
        publish: AbstractChannel,
        consume: AbstractChannel,
        names: Names,
        service: str,
        reply_to: str,
        on_outcome: OutcomeHandler | None,
        *,
        fast: bool = True,
        republish_seconds: float = 30.0,
    ) -> None:
        self._connection = connection
        self._republish_seconds = republish_seconds
        self._consume = consume
        self._fast = fast
        self._publisher = Publisher(publish, fast=fast)
        self.names = names
        self.service = service
        self.reply_to = reply_to
        self.identity = Identity(id=service, service=service)
        self._on_outcome = on_outcome
        # Each waiter (an ask, a wait) has a future of its own: one timing out or being
        # cancelled never cancels another's.
        self._futures: dict[UUID, list[asyncio.Future[InteractionOutcome]]] = {}
        self._unclaimed: dict[UUID, tuple[InteractionOutcome, AbstractIncomingMessage]] = {}
        self._delivered: OrderedDict[UUID, None] = OrderedDict()
        # Trace context: an ask's span is a child of the caller's current OpenTelemetry span,
        # and its requests carry it as ``traceparent``; assign an ``OtelTracing`` of your own
        # tracer to choose another (hitl.observability.tracing).
        self.tracing = for_client()

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(
        cls,
        url: str | Sequence[str] = "amqp://guest:guest@127.0.0.1:5672/",
        *,
        service: str | None = None,
        instance: str | None = None,
        namespace: str = DEFAULT_NAMESPACE,
        on_outcome: OutcomeHandler | None = None,
        queue_type: QueueType = DEFAULT_QUEUE_TYPE,
        delivery_limit: int = DEFAULT_DELIVERY_LIMIT,
        prefetch: int = 1000,
        startup_attempts: int = 5,
        fast: bool = True,
        republish_seconds: float = 30.0,
    ) -> AsyncIterator["HitlClient"]:
        """Connect, declare the topology and this producer's durable reply queue, and consume it.

        ``url`` is one RabbitMQ or the nodes of a cluster (a list, or URLs separated by commas,
        as ``HITL_AMQP_URL``): tried in order, and again when the node in use is lost; the
        reply queue's consumer is re-attached on the node taken over. A request or cancel whose
        confirm was outstanding when its node went is published again (same id, kept once) for
        up to ``republish_seconds``, then ``TransportError``.

        ``service`` names the reply queue (default: ``$HITL_SERVICE`` or ``default``); give each
        replica of a service its own stable ``instance`` (e.g. a StatefulSet pod name) so every
        replica receives exactly the outcomes of what it asked. ``fast=False`` publishes,
        consumes and acks through aio-pika's public API only (see ``HITL_AMQP_FAST_PATH``).
        """
        service = service or os.environ.get("HITL_SERVICE", "default")
        reply_to = f"{service}.{instance}" if instance else service
        names = Names(namespace)
        connection = await connect_amqp(url, startup_attempts, name=f"hitl-client {reply_to}")
        try:
            publish = await connection.channel(publisher_confirms=True)
            consume = await connection.channel(publisher_confirms=False)
            await consume.set_qos(prefetch_count=prefetch)
            await ensure_broker_queues(connection, names, queue_type, delivery_limit)
            queue = await declare_queue(
                consume,
                names.reply_queue(reply_to),
                queue_arguments(names, queue_type, delivery_limit),
            )
            with refusal_named(f"bind queue {queue.name} to {names.outcomes}"):
                await queue.bind(names.outcomes, outcome_key(reply_to))
            client = cls(
                connection,
                publish,
                consume,
                names,
                service,
                reply_to,
                on_outcome,
                fast=fast,
                republish_seconds=republish_seconds,
            )
            consumer = await consume_queue(consume, queue, client._receive, fast=fast)
            try:
                yield client
            finally:
                with contextlib.suppress(Exception):
                    await consumer.cancel()
                client._abandon()
        finally:
            await connection.close()

    def new_request(
        self, kind: str, *, thread_id: str, prompt: str, **fields: Any
    ) -> InteractionRequest:
        """A request of ``kind`` with a fresh id, this client as requester and reply_to."""
        return REQUEST_ADAPTER.validate_python(
            {
                "kind": kind,
                "id": uuid4(),
                "thread_id": thread_id,
                "prompt": prompt,
                "reply_to": self.reply_to,
                "requester": self.identity,
                **fields,
            }
        )

    def next_turn(
        self, outcome: InteractionOutcome, prompt: str, **fields: Any
    ) -> InteractionRequest:
        """The next turn of a conversation: same thread, the transcript so far, a new prompt."""
        if outcome.kind != "conversation" or "transcript" not in outcome.data:
            raise ValueError(f"{outcome.interaction_id} is a {outcome.kind}, not a conversation")
        return self.new_request(
            "conversation",
            thread_id=outcome.thread_id,
            prompt=prompt,
            transcript=outcome.data["transcript"],
            **fields,
        )

    async def ask(
        self,
        request: InteractionRequest,
        *,
        timeout: float | None = None,
        trace: TraceContext | None = None,
    ) -> InteractionOutcome:
        """Publish and wait for the outcome. On ``AskTimeout`` the interaction stays pending;
        its outcome will still arrive (``wait`` or ``on_outcome``). ``trace``: the W3C trace
        context the request carries (default: the current OpenTelemetry span's, if any)."""
        with self.tracing.span("hitl ask", trace, "producer", _about(request)) as trace:
            future = self._future(request)
            await self._submit(request, trace)
            return await self._await(request.id, future, timeout)

    async def submit(
        self, request: InteractionRequest, *, trace: TraceContext | None = None
    ) -> UUID:
        """Publish without waiting (resume-later mode). Returns once RabbitMQ confirmed it."""
        with self.tracing.span("hitl submit", trace, "producer", _about(request)) as trace:
            return await self._submit(request, trace)

    async def _submit(self, request: InteractionRequest, trace: TraceContext | None) -> UUID:
        self._check_reply_to(request)
        routed = await self._publisher.publish_again_on_failure(
            Envelope(
                self.names.requests,
                request.kind,
                encode_model(request),
                REQUEST_TYPE,
                str(request.id),
                str(request.id),
                trace.headers() if trace is not None else {},
            ),
            within=self._republish_seconds,
        )
        if not routed:
            raise TransportError(
                f"no queue is bound to {self.names.requests!r}; is the "
                f"namespace {self.names.namespace!r} right?"
            )
        return request.id

    async def wait(
        self, interaction_id: UUID, *, timeout: float | None = None
    ) -> InteractionOutcome:
        """Await the outcome of an interaction asked earlier, by this or a previous process."""
        held = self._unclaimed.pop(interaction_id, None)
        if held is not None:
            outcome, message = held
            await message.ack()
            self._remember(interaction_id)
            return outcome
        return await self._await(interaction_id, self._waiter(interaction_id), timeout)

    async def cancel(self, interaction_id: UUID, *, reason: str | None = None) -> None:
        """Withdraw a pending interaction; its outcome (status cancelled) arrives as usual.
        Published on the responses exchange, as this service (AMQP user-id): a least-privilege
        producer's user needs ``hitl access rabbitmq producer --cancel`` (docs/security.md)."""
        response = HumanResponse(
            interaction_id=interaction_id,
            action="cancel",
            data={"reason": reason} if reason else {},
            responder=self.identity,
            channel="sdk",
        )
        await self._publisher.publish_again_on_failure(
            Envelope(
                self.names.responses,
                str(interaction_id),
                encode_model(response),
                RESPONSE_TYPE,
                str(response.response_id),
                str(interaction_id),
                user_id=amqp_user(self._connection),
            ),
            within=self._republish_seconds,
        )

    def _future(self, request: InteractionRequest) -> asyncio.Future[InteractionOutcome]:
        self._check_reply_to(request)
        return self._waiter(request.id)

    def _waiter(self, interaction_id: UUID) -> asyncio.Future[InteractionOutcome]:
        future: asyncio.Future[InteractionOutcome] = asyncio.get_running_loop().create_future()
        self._futures.setdefault(interaction_id, []).append(future)
        return future

    def _forget_waiter(
        self, interaction_id: UUID, future: asyncio.Future[InteractionOutcome]
    ) -> None:
        waiters = self._futures.get(interaction_id, [])
        if future in waiters:
            waiters.remove(future)
        if not waiters:
            self._futures.pop(interaction_id, None)

    def _check_reply_to(self, request: InteractionRequest) -> None:
        if request.reply_to != self.reply_to:
            raise ValueError(
                f"request.reply_to is {request.reply_to!r} but this client receives "
                f"{self.reply_to!r}; build requests with new_request()"
            )

    async def _await(
        self,
        interaction_id: UUID,
        future: asyncio.Future[InteractionOutcome],
        timeout: float | None,
    ) -> InteractionOutcome:
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError as exc:
            raise AskTimeout(
                f"no outcome for {interaction_id} within {timeout}s; it is still pending"
            ) from exc
        finally:
            # Gone unless it was answered: a later outcome goes to on_outcome or is held for
            # wait(), instead of to a future nobody awaits.
            if not future.done() or future.cancelled():
                self._forget_waiter(interaction_id, future)

    async def _receive(self, message: AbstractIncomingMessage) -> None:
        if not self.tracing.recording:
            await self._take(message)
            return
        parent = self.tracing.incoming(message.headers)
        with self.tracing.span("hitl outcome received", parent, "consumer"):
            await self._take(message)

    async def _take(self, message: AbstractIncomingMessage) -> None:
        try:
            outcome = InteractionOutcome.model_validate_json(message.body)
        except ValidationError:
            log.exception(
                "dead-lettering an unreadable outcome (message_id=%s)", message.message_id
            )
            await message.reject(requeue=False)
            return
        iid = outcome.interaction_id
        if iid in self._delivered:  # a redelivery after a broker crash: already handed over
            await message.ack()
            return
        if any(not f.done() for f in self._futures.get(iid, ())):
            # The ack is queued first, so it is written before the waiter's code runs (which
            # may ask again at once) instead of landing in the next request's commit. If it
            # cannot be (channel closed), the waiters stay for the redelivery.
            await ack_at_once(message, fast=self._fast)
            self._remember(iid)
            for future in self._futures.pop(iid):
                if not future.done():
                    future.set_result(outcome)
            return
        if self._on_outcome is not None:
            try:
                await self._on_outcome(outcome)
            except Exception:
                log.exception("on_outcome failed for %s; it will be redelivered", iid)
                await message.nack(requeue=True)
                return
        else:  # nobody is waiting yet: hold it unacked until wait() asks for it
            self._unclaimed[iid] = (outcome, message)
            return
        self._remember(iid)
        await message.ack()

    def _remember(self, interaction_id: UUID) -> None:
        self._delivered[interaction_id] = None
        if len(self._delivered) > _REMEMBERED:
            self._delivered.popitem(last=False)

    def _abandon(self) -> None:
        for waiters in self._futures.values():
            for future in waiters:
                if not future.done():
                    future.cancel()
        self._futures.clear()


def _about(request: InteractionRequest) -> dict[str, str]:
    return {"hitl.interaction_id": str(request.id), "hitl.kind": request.kind}
