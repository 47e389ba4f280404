"""hitl straight on RabbitMQ and Redis: reads from the store's read indexes, answers published
to ``<ns>.responses`` as a notifier bot sends them, with the broker's receipt awaited. Like the
gateway (``hitl.gateway.answers``), the store is read before an answer is sent, so a mistyped
id is an error here and never an answer held for a request that will not come (unless the
caller asks for that: ``hold``)."""

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import NoReturn
from uuid import UUID

from aio_pika.abc import AbstractRobustConnection
from pydantic import ValidationError

from hitl.adapters.amqp.topology import ensure_broker_queues
from hitl.adapters.redis.connection import RedisClient
from hitl.cli import connect
from hitl.cli.backends.port import EventFilter, Listing, Window
from hitl.cli.errors import (
    AlreadyDecided,
    ClaimedByOther,
    NotAllowed,
    Refused,
    Unknown,
    Unreachable,
    Usage,
)
from hitl.core.decisions import check_allowed
from hitl.core.listing import waiting_for_identity
from hitl.core.stats import StatsReport, WindowError, report, resolve_window
from hitl.errors import NotAllowed as NotAnAllowedResponder
from hitl.gateway import cursors, views
from hitl.gateway.cursors import BadCursor, Filters
from hitl.gateway.models import AnswerResult, ClaimResult, InteractionDetail, InteractionPage
from hitl.ports import InteractionReads
from hitl.runtime.stores import redis_store
from hitl.sdk.responder import Responder
from hitl.settings import Settings
from hitl_contract import (
    ErrorCode,
    HumanResponse,
    Identity,
    JsonObject,
    LifecycleEvent,
    LifecycleEvents,
    ReceiptResult,
    ResponseReceipt,
)
from hitl_contract.wire import EVENT_TYPE, Names

CHANNEL = "cli"
_ANSWERED = (ReceiptResult.ACCEPTED, ReceiptResult.RECORDED, ReceiptResult.HELD)


class DirectBackend:
    """Opens Redis and RabbitMQ when first needed (each once), closes them on exit."""

    def __init__(
        self,
        settings: Settings,
        who: Identity,
        receipt_timeout: float = 10.0,
        *,
        channel: str = CHANNEL,
    ) -> None:
        self.settings = settings
        self.who = who
        self.receipt_timeout = receipt_timeout
        self.channel = channel
        self._stack = contextlib.AsyncExitStack()
        self._reads: InteractionReads | None = None
        self._amqp: AbstractRobustConnection | None = None
        self._responder: Responder | None = None

    @property
    def where(self) -> str:
        return f"RabbitMQ and Redis (namespace {self.settings.namespace})"

    async def __aenter__(self) -> "DirectBackend":
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stack.aclose()

    async def reads(self) -> InteractionReads:
        if self._reads is None:
            redis: RedisClient = await self._stack.enter_async_context(connect.redis(self.settings))
            self._reads = redis_store(redis, self.settings)
        return self._reads

    async def connection(self) -> AbstractRobustConnection:
        if self._amqp is None:
            self._amqp = await connect.amqp(self.settings, "hitl-cli")
            self._stack.push_async_callback(self._amqp.close)
        return self._amqp

    async def page(self, listing: Listing) -> InteractionPage:
        filters = Filters(
            status=listing.status,
            kind=listing.kind,
            thread_id=listing.thread_id,
            requester=listing.requester,
            node=listing.node,
            waiting_for=waiting_for_identity(self.who) if listing.mine else None,
            labels=dict(listing.labels),
            newest_first=listing.newest_first,
        )
        try:
            after = cursors.decode(listing.cursor, filters) if listing.cursor else None
        except BadCursor as exc:
            raise Usage(f"--cursor: {exc}; use the cursor printed with the same filters") from exc
        result = await (await self.reads()).query(filters.query(listing.limit, after))
        now = time.time()
        return InteractionPage(
            items=[views.summary(state, now) for state in result.items],
            next_cursor=cursors.encode(result.next, filters) if result.next else None,
        )

    async def detail(self, interaction_id: UUID) -> InteractionDetail | None:
        reads = await self.reads()
        state = await reads.load(interaction_id)
        if state is None:
            return None
        return views.detail(state, await reads.history(interaction_id), time.time())

    async def answer(
        self, interaction_id: UUID, action: str, data: JsonObject, *, hold: bool = False
    ) -> AnswerResult:
        state = await (await self.reads()).load(interaction_id)
        if state is None and not hold:
            raise Unknown(f"no interaction {interaction_id}")
        try:
            response = HumanResponse(
                interaction_id=interaction_id,
                action=action,
                data=data,
                responder=self.who,
                channel=self.channel,
                responded_at=datetime.now(UTC),
            )
        except ValidationError as exc:
            raise Usage(f"not an answer: {exc.errors(include_url=False)[0]['msg']}") from exc
        if state is not None and state.is_pending:
            try:
                check_allowed(state.request, response)
            except NotAnAllowedResponder as exc:
                allowed = ", ".join(str(a) for a in exc.detail.allowed or [])
                raise NotAllowed(
                    f"{self.who.id} may not answer {interaction_id}; its responders: {allowed}"
                ) from exc
        return _result(await self._send(response), response)

    async def cancel(self, interaction_id: UUID, reason: str | None) -> AnswerResult:
        return await self.answer(interaction_id, "cancel", {"reason": reason} if reason else {})

    async def claim(
        self, interaction_id: UUID, *, ttl_seconds: int | None = None, team: str | None = None
    ) -> ClaimResult:
        # Straight on the servers one speaks for a team as for --as: the team is one's group.
        who = self.who
        if team is not None and team not in who.groups:
            who = who.model_copy(update={"groups": [*who.groups, team]})
        return await self._claim(
            interaction_id,
            lambda r: r.claim(
                interaction_id,
                who,
                ttl_seconds=ttl_seconds,
                team=team,
                channel=self.channel,
                timeout=self.receipt_timeout,
            ),
        )

    async def release(self, interaction_id: UUID, *, admin: bool = False) -> ClaimResult:
        return await self._claim(
            interaction_id,
            lambda r: r.release(
                interaction_id,
                self.who,
                admin=admin,
                channel=self.channel,
                timeout=self.receipt_timeout,
            ),
        )

    async def _claim(
        self,
        interaction_id: UUID,
        send: Callable[[Responder], Awaitable[ResponseReceipt | None]],
    ) -> ClaimResult:
        if await (await self.reads()).load(interaction_id) is None:
            raise Unknown(f"no interaction {interaction_id}")
        receipt = await self._receipt(interaction_id, send)
        if receipt.result == ReceiptResult.ACCEPTED:
            return ClaimResult(interaction_id=interaction_id, claim=receipt.claim)
        return _refused(receipt, interaction_id, self.who.id, "claim or release")

    async def _send(self, response: HumanResponse) -> ResponseReceipt:
        return await self._receipt(
            response.interaction_id,
            lambda r: r.respond(response, timeout=self.receipt_timeout),
        )

    async def _receipt(
        self, interaction_id: UUID, send: Callable[[Responder], Awaitable[ResponseReceipt | None]]
    ) -> ResponseReceipt:
        if self._responder is None:
            self._responder = await Responder.attach(
                await self.connection(),
                namespace=self.settings.namespace,
                fast=self.settings.amqp_fast_path,
            )
        try:
            receipt = await send(self._responder)
        except TimeoutError as exc:
            raise Unreachable(
                f"no receipt from a broker within {self.receipt_timeout:g}s (namespace "
                f"{self.settings.namespace}); is `hitl broker` running? It may still "
                f"apply: `hitl show {interaction_id}` says"
            ) from exc
        assert receipt is not None  # a timeout was given
        return receipt

    async def events(
        self, wanted: EventFilter, ready: Callable[[], None] | None = None
    ) -> AsyncIterator[LifecycleEvent]:
        connection = await self.connection()
        s, names = self.settings, Names(self.settings.namespace)
        await ensure_broker_queues(connection, names, s.queue_type, s.delivery_limit)
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(names.events, "#")  # the broker's: a notifier's user may not declare it
        if ready is not None:
            ready()
        async with queue.iterator(no_ack=True) as messages:
            async for message in messages:
                if message.type != EVENT_TYPE:
                    continue
                try:
                    batch = LifecycleEvents.model_validate_json(message.body)
                except ValidationError:
                    continue
                for event in batch.events:
                    if wanted.wants(event):
                        yield event

    async def stats(self, window: Window) -> StatsReport:
        try:
            span = resolve_window(
                time.time(),
                self.settings.analytics_retention_seconds,
                window=window.window,
                since=window.since,
                until=window.until,
            )
        except WindowError as exc:
            raise Usage(f"{exc} (--{exc.field})") from exc
        reads = await self.reads()
        counters = await reads.counters(span.hours)
        return report(span, counters, await reads.pending_counts(), window.top)


def _result(receipt: ResponseReceipt, response: HumanResponse) -> AnswerResult:
    """The receipt as the gateway would answer it; a ``CliError`` for what is not taken."""
    if receipt.result in _ANSWERED:
        return AnswerResult(
            result=receipt.result,
            interaction_id=response.interaction_id,
            response_id=response.response_id,
            outcome=receipt.outcome,
        )
    return _refused(receipt, response.interaction_id, response.responder.id, "answer")


def _refused(receipt: ResponseReceipt, interaction_id: UUID, who: str, what: str) -> NoReturn:
    """The ``CliError`` of a receipt that took nothing."""
    if receipt.result == ReceiptResult.ALREADY_RESOLVED and receipt.outcome is not None:
        raise AlreadyDecided(receipt.outcome)
    if receipt.result == ReceiptResult.UNKNOWN_INTERACTION:
        raise Unknown(f"no interaction {interaction_id}")
    error = receipt.error
    if error is None:
        raise Refused.of(f"the broker answered {receipt.result} without saying why")
    if error.code == ErrorCode.CLAIMED:
        raise ClaimedByOther(error)
    if error.code == ErrorCode.NOT_ALLOWED:
        raise NotAllowed(f"{who} may not {what}: {error.message}")
    raise Refused(error)
