"""The hand-written peer's consumer, the pipeline a team would write with the same libraries:
consume a request, write a Redis hash with one Lua call, publish a notification; consume an
answer, resolve with one Lua call, publish the outcome. Persistent messages, publisher
confirms, manual acks after the publish, quorum queues. One message at a time per delivery
(aio-pika runs each delivery as its own task, as it does for hitl's broker).

    python -m hitl_bench.peer_consumer --namespace NS [--amqp-url URL] [--redis-url URL]
"""

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from dataclasses import dataclass

import aio_pika
import orjson
from aio_pika.abc import AbstractExchange, AbstractIncomingMessage
from redis.asyncio import Redis

# KEYS: 1 hash, 2 pending zset. ARGV: 1 request json, 2 requested_at, 3 reply_to, 4 id
CREATE_LUA = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'req', ARGV[1], 'st', 'pending', 'ra', ARGV[2], 'rt', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[4])
return 1
"""
# KEYS: 1 hash, 2 pending zset. ARGV: 1 outcome json, 2 id. Returns reply_to, or false.
RESOLVE_LUA = """
if redis.call('HGET', KEYS[1], 'st') ~= 'pending' then return false end
redis.call('HSET', KEYS[1], 'st', 'resolved', 'out', ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[2])
return redis.call('HGET', KEYS[1], 'rt')
"""


@dataclass(frozen=True, slots=True)
class PeerNames:
    namespace: str

    @property
    def exchanges(self) -> tuple[str, str, str, str]:
        ns = self.namespace
        return (f"{ns}.requests", f"{ns}.notifications", f"{ns}.responses", f"{ns}.outcomes")

    @property
    def requests_queue(self) -> str:
        return f"{self.namespace}.consumer.requests"

    @property
    def responses_queue(self) -> str:
        return f"{self.namespace}.consumer.responses"

    @property
    def notifier_queue(self) -> str:
        return f"{self.namespace}.notifier"

    def reply_queue(self, service: str) -> str:
        return f"{self.namespace}.reply.{service}"

    def ix_key(self, iid: str) -> str:
        return f"{self.namespace}:ix:{iid}"

    @property
    def pending_key(self) -> str:
        return f"{self.namespace}:pending"


def persistent(body: bytes, message_id: str) -> aio_pika.Message:
    return aio_pika.Message(
        body,
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=message_id,
    )


class Consumer:
    def __init__(
        self,
        names: PeerNames,
        redis: "Redis",
        notifications: AbstractExchange,
        outcomes: AbstractExchange,
    ) -> None:
        self._names = names
        self._create = redis.register_script(CREATE_LUA)
        self._resolve = redis.register_script(RESOLVE_LUA)
        self._notifications = notifications
        self._outcomes = outcomes

    async def on_request(self, message: AbstractIncomingMessage) -> None:
        request = orjson.loads(message.body)
        iid = request["id"]
        created = await self._create(
            keys=[self._names.ix_key(iid), self._names.pending_key],
            args=[message.body, repr(time.time()), request["reply_to"], iid],
        )
        if created:
            note = orjson.dumps({"interaction_id": iid, "request": request})
            await self._notifications.publish(
                persistent(note, f"notification:{iid}"), f"default.{request['kind']}"
            )
        await message.ack()

    async def on_response(self, message: AbstractIncomingMessage) -> None:
        response = orjson.loads(message.body)
        iid = response["interaction_id"]
        outcome = orjson.dumps(
            {
                "interaction_id": iid,
                "status": "resolved",
                "action": response["action"],
                "data": response["data"],
                "decided_by": response["responder"],
                "resolved_at": time.time(),
            }
        )
        reply_to = await self._resolve(
            keys=[self._names.ix_key(iid), self._names.pending_key], args=[outcome, iid]
        )
        if reply_to:
            await self._outcomes.publish(persistent(outcome, f"outcome:{iid}"), reply_to.decode())
        await message.ack()


async def serve(namespace: str, amqp_url: str, redis_url: str, prefetch: int) -> None:
    names = PeerNames(namespace)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    redis: Redis = Redis.from_url(redis_url)
    connection = await aio_pika.connect_robust(
        amqp_url, client_properties={"connection_name": f"peer-consumer {namespace}"}
    )
    try:
        consume = await connection.channel()
        await consume.set_qos(prefetch_count=prefetch)
        publish = await connection.channel(publisher_confirms=True)
        _, notifications, _, outcomes = [
            await publish.get_exchange(name, ensure=False) for name in names.exchanges
        ]
        consumer = Consumer(names, redis, notifications, outcomes)
        requests = await consume.get_queue(names.requests_queue, ensure=False)
        responses = await consume.get_queue(names.responses_queue, ensure=False)
        tags = [
            (requests, await requests.consume(consumer.on_request)),
            (responses, await responses.consume(consumer.on_response)),
        ]
        print("peer consumer ready", file=sys.stderr, flush=True)
        await stop.wait()
        for queue, tag in tags:
            with contextlib.suppress(Exception):
                await queue.cancel(tag)
        await asyncio.sleep(0.2)
    finally:
        await connection.close()
        await redis.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m hitl_bench.peer_consumer")
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--prefetch", type=int, default=256)
    parser.add_argument(
        "--uvloop", action="store_true", help="run on uvloop (default: the stdlib event loop)"
    )
    args = parser.parse_args()
    coro = serve(args.namespace, args.amqp_url, args.redis_url, args.prefetch)
    if args.uvloop:
        import uvloop

        uvloop.run(coro)
    else:
        asyncio.run(coro)


if __name__ == "__main__":
    main()
