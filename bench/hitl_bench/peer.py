"""The hand-written peer under test: its consumer in a process of its own
(``hitl_bench.peer_consumer``), producers and the same kind of auto-responder in the bench
process, every queue a quorum queue, every message persistent and confirmed."""

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import orjson
from aio_pika.abc import AbstractExchange, AbstractIncomingMessage
from redis.asyncio import Redis

from hitl.adapters.amqp.teardown import delete_queues_and_exchanges
from hitl.adapters.redis.purge import purge_namespace
from hitl_bench.peer_consumer import PeerNames, persistent
from hitl_bench.procs import Child, start_child
from hitl_bench.scenario import AutoResponder, answer_notification

SERVICE = "bench"
QUORUM = {"x-queue-type": "quorum"}


@dataclass
class PeerRig:
    amqp_url: str
    redis_url: str
    namespace: str
    log_dir: Path
    prefetch: int = 256
    uvloop: bool = False
    name: str = "peer"
    consumer: Child | None = None
    _stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)
    _requests: AbstractExchange | None = None
    _responder: AutoResponder | None = None
    _futures: dict[str, asyncio.Future[bytes]] = field(default_factory=dict)

    @property
    def names(self) -> PeerNames:
        return PeerNames(self.namespace)

    @property
    def responder(self) -> AutoResponder:
        assert self._responder is not None
        return self._responder

    async def start(self) -> None:
        n = self.names
        connection = await aio_pika.connect_robust(
            self.amqp_url, client_properties={"connection_name": "peer-bench-producer"}
        )
        self._stack.push_async_callback(connection.close)
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=1000)
        requests_x, notifications_x, responses_x, outcomes_x = [
            await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=True)
            for name in n.exchanges
        ]
        for queue_name, exchange, key in (
            (n.requests_queue, requests_x, "#"),
            (n.responses_queue, responses_x, "#"),
            (n.notifier_queue, notifications_x, "#"),
            (n.reply_queue(SERVICE), outcomes_x, SERVICE),
        ):
            queue = await channel.declare_queue(queue_name, durable=True, arguments=QUORUM)
            await queue.bind(exchange, key)
        args = ["hitl_bench.peer_consumer", "--namespace", self.namespace]
        args += ["--amqp-url", self.amqp_url, "--redis-url", self.redis_url]
        args += ["--prefetch", str(self.prefetch)] + (["--uvloop"] if self.uvloop else [])
        self.consumer = await start_child(
            f"{self.namespace}-consumer", args, os.environ, self.log_dir, "peer consumer ready"
        )
        publish = await connection.channel(publisher_confirms=True)
        self._requests = await publish.get_exchange(n.exchanges[0], ensure=False)
        responses = await publish.get_exchange(n.exchanges[2], ensure=False)
        self._responder = AutoResponder(responses, answer_notification, "peer.response")
        notifier = await channel.get_queue(n.notifier_queue, ensure=False)
        await notifier.consume(self._responder.on_notification)
        replies = await channel.get_queue(n.reply_queue(SERVICE), ensure=False)
        await replies.consume(self._on_outcome)

    async def _on_outcome(self, message: AbstractIncomingMessage) -> None:
        outcome = orjson.loads(message.body)
        future = self._futures.pop(outcome["interaction_id"], None)
        if future is not None and not future.done():
            future.set_result(message.body)
        await message.ack()

    async def ask_one(self, seq: int) -> tuple[str, float, float]:
        assert self._requests is not None
        iid = str(uuid.uuid4())
        request: dict[str, Any] = {
            "schema_version": 1,
            "kind": "approval",
            "id": iid,
            "thread_id": f"bench-{uuid.uuid4().hex[:12]}",
            "prompt": "Pay 500 EUR to ACME Corp for invoice INV-2041?",
            "context": {"amount": 500, "currency": "EUR", "invoice": "INV-2041"},
            "timeout_seconds": 3600,
            "on_timeout": {"action": "reject", "data": {"reason": "no answer within the hour"}},
            "reply_to": SERVICE,
            "requester": {"id": SERVICE, "service": SERVICE},
            "resume_state": {"step": "pay", "seq": seq},
        }
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._futures[iid] = future
        t0 = time.perf_counter()
        await self._requests.publish(persistent(orjson.dumps(request), iid), "approval")
        await asyncio.wait_for(future, 120)
        return iid, t0, time.perf_counter()

    def cpu_groups(self) -> Mapping[str, Sequence[int]]:
        pids = [self.consumer.pid] if self.consumer else []
        return {"service": pids, "bench": [os.getpid()]}

    async def close(self, *, cleanup: bool = True) -> None:
        await self._stack.aclose()
        if self.consumer is not None:
            await self.consumer.stop()
        if cleanup:
            n = self.names
            connection = await aio_pika.connect(self.amqp_url)
            try:
                await delete_queues_and_exchanges(
                    connection,
                    [n.requests_queue, n.responses_queue, n.notifier_queue, n.reply_queue(SERVICE)],
                    n.exchanges,
                )
            finally:
                await connection.close()
            redis: Redis = Redis.from_url(self.redis_url)
            try:
                await purge_namespace(redis, self.namespace)
            finally:
                await redis.aclose()
