"""The inbox's list page with many interactions pending: its server time.

Seeds ``--pending`` pending interactions into a fresh namespace (the create script the store
runs, replayed by ``growth.seed``), builds the gateway's app in this process on the real
Redis (the read port, the key store, a signed-in inbox session), and requests ``GET /inbox/``
``--calls`` times through ASGI (no socket: the time is the server's). Reports the wall time of
each request and the page's own ``Server-Timing`` (read: the store's page query; render: the
template), newest first and oldest first. The namespace is purged afterwards.

    uv run python -m hitl_bench.inbox_list --pending 1000000 --calls 200
"""

import argparse
import asyncio
import re
import time
import uuid
from collections.abc import Sequence

import httpx
from redis.asyncio import Redis

from hitl.adapters.redis.apikeys import RedisApiKeys
from hitl.adapters.redis.keys import Keys
from hitl.adapters.redis.purge import purge_namespace
from hitl.adapters.redis.reads import RedisReads
from hitl.core.apikeys import mint
from hitl.gateway.app import create_app
from hitl.gateway.deps import GatewayContext
from hitl.gateway.fanout import Fanout
from hitl.gateway.keys import CachedApiKeys
from hitl.settings import Settings
from hitl_bench.growth import seed
from hitl_bench.stats import Quantiles
from hitl_contract import Identity

_TIMING = re.compile(r"(\w+);dur=([\d.]+)")


async def measure(redis_url: str, pending: int, calls: int) -> None:
    namespace = f"bench-inbox-{uuid.uuid4().hex[:8]}"
    settings = Settings(redis_url=redis_url, namespace=namespace)
    redis: Redis = Redis.from_url(redis_url)
    keys = Keys(namespace, settings.shards)
    try:
        began = time.perf_counter()
        await seed(redis, keys, pending, start=0, retention_seconds=86400)
        print(f"seeded {pending} pending in {time.perf_counter() - began:.0f} s")
        token, record = mint(Identity(id="bench"), ("read", "respond"), time.time())
        await RedisApiKeys(redis, keys).add(record)
        context = GatewayContext(
            settings=settings,
            reads=RedisReads(redis, keys),
            keys=CachedApiKeys(RedisApiKeys(redis, keys), cache_seconds=5),
            hub=Fanout(16),
            clock=time.time,
        )
        transport = httpx.ASGITransport(app=create_app(context))
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://inbox.bench",
            cookies={"hitl_inbox": f"bench.{token}"},
        ) as http:
            for order in ("newest", "oldest"):
                await _run(http, f"/inbox/?order={order}", calls)
    finally:
        gone = await purge_namespace(redis, namespace)
        print(f"purged {gone} keys")
        await redis.aclose()


async def _run(http: httpx.AsyncClient, path: str, calls: int) -> None:
    walls: list[float] = []
    parts: dict[str, list[float]] = {}
    for n in range(calls + 5):
        started = time.perf_counter()
        response = await http.get(path)
        wall = time.perf_counter() - started
        if response.status_code != 200 or response.text.count('class="item"') != 50:
            raise RuntimeError(f"{path}: {response.status_code}, not a full first page")
        if n < 5:  # warm-up: template compilation, connections
            continue
        walls.append(wall)
        for name, ms in _TIMING.findall(response.headers["server-timing"]):
            parts.setdefault(name, []).append(float(ms) / 1000)
    print(f"{path} ({calls} calls, 50 rows): " + _line("server", walls), end="")
    for name, values in parts.items():
        print(f"; {_line(name, values)}", end="")
    print()


def _line(name: str, seconds: Sequence[float]) -> str:
    q = Quantiles.of(seconds)
    return f"{name} p50 {q.p50:.1f} / p95 {q.p95:.1f} / p99 {q.p99:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    asyncio.run(measure(args.redis_url, args.pending, args.calls))


if __name__ == "__main__":
    main()
