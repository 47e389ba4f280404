"""What the gateway's answer route costs per request, outside the end-to-end bench:
``POST /v1/interactions/{id}/responses`` called on the gateway's ASGI app in this process
(no HTTP server, no socket), with the store read on a Redis of its own and a link to the
broker that hands back an ``accepted`` receipt with an outcome at once.

    python -m hitl_bench.gateway_answer --redis-url URL --count N [--warm N] [--profile]

The app, its middleware, the key check, the store's read and the answer's path to the
broker are the tree's own (put another tree's ``services`` and ``schemas`` first on
PYTHONPATH to measure it); uvicorn's HTTP parsing and writing are not measured (they are the
same for every tree). Prints the process CPU per request over the count (for instruction
counts, run it under ``valgrind --tool=callgrind`` with two counts: the difference is the
requests'), or with ``--profile`` the functions with the most time.
"""

import argparse
import asyncio
import cProfile
import pstats
import random
import resource
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from redis.asyncio import Redis

from hitl.adapters.memory.apikeys import MemoryApiKeys
from hitl.adapters.redis.keys import Keys
from hitl.adapters.redis.store import RedisStore
from hitl.core.apikeys import mint
from hitl.core.decoding import decode_request
from hitl.core.machine import open_interaction
from hitl.gateway.app import create_app
from hitl.gateway.deps import GatewayContext
from hitl.gateway.keys import CachedApiKeys
from hitl.settings import Settings
from hitl_bench.readside import _request
from hitl_contract import (
    DecidedBy,
    HumanResponse,
    Identity,
    InteractionClaim,
    InteractionOutcome,
    InteractionRequest,
    ReceiptResult,
    ResponseReceipt,
)


class AcceptAtOnce:
    """A broker link whose receipts come back at once: accepted, with an outcome."""

    async def answer(self, response: HumanResponse, timeout: float) -> ResponseReceipt:
        now = datetime.now(UTC)
        outcome = InteractionOutcome(
            interaction_id=response.interaction_id,
            thread_id="t",
            kind="approval",
            status="resolved",
            action=response.action,
            data=response.data,
            decided_by=DecidedBy(type="person", identity=response.responder, channel="http"),
            response_id=response.response_id,
            requested_at=now,
            resolved_at=now,
        )
        receipt = ResponseReceipt(
            interaction_id=response.interaction_id,
            response_id=response.response_id,
            result=ReceiptResult.ACCEPTED,
            outcome=outcome,
        )
        # As the AMQP link does: the receipt arrives as JSON and is validated.
        return ResponseReceipt.model_validate_json(receipt.model_dump_json())

    async def claim(self, claim: InteractionClaim, timeout: float) -> ResponseReceipt:
        raise NotImplementedError("the answer route's bench sends no claims")

    async def request(self, request: InteractionRequest) -> None:
        raise NotImplementedError


async def _call(app: Any, path: str, body: bytes, token: str) -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def run(url: str, count: int, warm: int, profile: bool) -> dict[str, Any]:
    redis = Redis.from_url(url)
    namespace = f"gwanswer-{uuid.uuid4().hex[:8]}"
    settings = Settings(namespace=namespace, redis_url=url)
    keys = Keys(namespace, settings.shards)
    store = RedisStore(
        redis, keys, retention_seconds=3600, outbox_lease_seconds=5.0, script_timeout=10.0
    )
    records = MemoryApiKeys()
    token, record = mint(
        Identity(id="bench-bot", display_name="hitl bench"), ("read", "respond"), time.time()
    )
    await records.add(record)
    context = GatewayContext(
        settings=settings,
        reads=store,
        keys=CachedApiKeys(records, cache_seconds=3600),
        hub=None,  # type: ignore[arg-type]  # the answer route does not use it
        clock=time.time,
        broker=AcceptAtOnce(),
    )
    app = create_app(context)
    rng = random.Random(7)
    request = decode_request(_request(rng, 0, "bench-gw"), 1 << 20)
    await store.create(open_interaction(request, time.time(), "default"), [])
    path = f"/v1/interactions/{request.id}/responses"

    def body() -> bytes:
        return orjson.dumps(
            {
                "action": "approve",
                "data": {"reason": "within budget"},
                "response_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            }
        )

    try:
        for _ in range(warm):
            assert await _call(app, path, body(), token) == 200
        bodies = [body() for _ in range(count)]
        profiler = cProfile.Profile() if profile else None
        usage0 = resource.getrusage(resource.RUSAGE_SELF)
        if profiler:
            profiler.enable()
        for b in bodies:
            await _call(app, path, b, token)
        if profiler:
            profiler.disable()
        usage1 = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        await redis.delete(*[k async for k in redis.scan_iter(match=f"{namespace}:*")])
        await redis.aclose()
    if profiler:
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats("tottime").print_stats(30)
        stats.sort_stats("cumtime").print_stats(50)
    cpu = (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime)
    return {"count": count, "cpu_us_per_request": 1e6 * cpu / max(count, 1)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m hitl_bench.gateway_answer")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--warm", type=int, default=50)
    parser.add_argument("--profile", action="store_true")
    ns = parser.parse_args(argv)
    result = asyncio.run(run(ns.redis_url, ns.count, ns.warm, ns.profile))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")


if __name__ == "__main__":
    main()
