"""Publishing committed outbox messages, then deleting them from the outbox.

The writer of a transition dispatches its own messages at once; the poller's relay dispatches
those whose writer died first. Either way: publish with confirms, then delete, so a crash in
between means a republish (same message id), never a loss.
"""

import asyncio
from collections.abc import Coroutine, Sequence
from typing import Any

from hitl.adapters.amqp.publisher import Publisher
from hitl.adapters.redis.store import RedisStore
from hitl.broker.outbound import OutboxMessage
from hitl.broker.rejections import Rejections
from hitl.observability.metrics import Metrics
from hitl_contract import ErrorCode, ErrorDetail


async def settle_all(work: list[Coroutine[Any, Any, None]]) -> None:
    """Run all to completion, then raise the first failure. Unlike a bare gather, nothing is
    left running behind a failure: a half-finished publish must not race the relay."""
    results = await asyncio.gather(*work, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


class Dispatcher:
    def __init__(
        self, publisher: Publisher, store: RedisStore, rejections: Rejections, metrics: Metrics
    ) -> None:
        self._publisher = publisher
        self._store = store
        self._rejections = rejections
        self._metrics = metrics

    async def dispatch(self, shard: int, messages: Sequence[OutboxMessage]) -> None:
        await settle_all([self._send(m) for m in messages])
        await self._store.outbox_done(shard, [m.entry_id for m in messages])

    async def _send(self, message: OutboxMessage) -> None:
        if await self._publisher.publish(message.envelope):
            return
        e = message.envelope
        self._metrics.unroutable.labels(e.exchange).inc()
        if message.critical:
            # Nobody is bound to receive it: park a copy where an operator will look.
            detail = ErrorDetail(
                code=ErrorCode.UNROUTABLE,
                message=f"no queue is bound to {e.exchange!r} with key {e.routing_key!r}",
                path="reply_to",
                got=e.routing_key,
            )
            await self._rejections.park(e, detail, "unroutable")
