"""The inbox's list page with many interactions pending: its server time.

Seeds ``--pending`` pending interactions into a fresh namespace (the create script the store
runs, replayed by ``growth.seed``), builds the gateway's app in this process on the real
Redis (the read port, the key store, a signed-in inbox session), and requests ``GET /inbox/``
``--calls`` times through ASGI (no socket: the time is the server's). Reports the wall time of
each request and the page's own ``Server-Timing`` (read: the store's page query; render: the
template), newest first and oldest first. The namespace is purged afterwards.

With ``--against N``, a second namespace with N pending is seeded too, and the calls go to
both in turn, in blocks of ``--block`` (who goes first alternating), so a busy machine's drift
falls on both alike: the large one's figures against the small one's in the same run. Each
line then also gives Redis's own time per call of the page's commands over that namespace's
blocks (``INFO commandstats`` deltas: other clients' calls of the same commands count too).

    uv run python -m hitl_bench.inbox_list --pending 1000000 --calls 200
    uv run python -m hitl_bench.inbox_list --pending 1000000 --against 1000 --calls 200
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


_COMMANDS = ("zrevrangebyscore", "zrangebyscore", "hmget")


async def measure(redis_url: str, pending: int, calls: int, against: int, block: int) -> None:
    redis: Redis = Redis.from_url(redis_url)
    namespaces: list[str] = []
    try:
        clients = {}
        for count in (pending, against) if against else (pending,):
            namespace = f"bench-inbox-{uuid.uuid4().hex[:8]}"
            namespaces.append(namespace)
            clients[count] = await _inbox(redis, redis_url, namespace, count)
        for order in ("newest", "oldest"):
            await _run(redis, clients, f"/inbox/?order={order}", calls, block)
        for client in clients.values():
            await client.aclose()
    finally:
        for namespace in namespaces:
            gone = await purge_namespace(redis, namespace)
            print(f"purged {gone} keys")
        await redis.aclose()


async def _inbox(redis: Redis, redis_url: str, namespace: str, pending: int) -> httpx.AsyncClient:
    """An inbox client of the gateway's app, signed in, on ``pending`` seeded interactions."""
    settings = Settings(redis_url=redis_url, namespace=namespace)
    keys = Keys(namespace, settings.shards)
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
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(context)),
        base_url="http://inbox.bench",
        cookies={"hitl_inbox": f"bench.{token}"},
    )


async def _run(
    redis: Redis, clients: dict[int, httpx.AsyncClient], path: str, calls: int, block: int
) -> None:
    walls: dict[int, list[float]] = {n: [] for n in clients}
    parts: dict[int, dict[str, list[float]]] = {n: {} for n in clients}
    spent: dict[int, dict[str, list[int]]] = {n: {c: [0, 0] for c in _COMMANDS} for n in clients}
    for http in clients.values():
        for _ in range(5):  # warm-up: template compilation, connections
            await _page(http, path)
    order = list(clients)
    for b in range(0, calls, block):
        for n in order if (b // block) % 2 == 0 else order[::-1]:
            before = await _commandstats(redis)
            for _ in range(min(block, calls - b)):
                started = time.perf_counter()
                response = await _page(clients[n], path)
                walls[n].append(time.perf_counter() - started)
                for name, ms in _TIMING.findall(response.headers["server-timing"]):
                    parts[n].setdefault(name, []).append(float(ms) / 1000)
            after = await _commandstats(redis)
            for c in _COMMANDS:
                spent[n][c][0] += after[c][0] - before[c][0]
                spent[n][c][1] += after[c][1] - before[c][1]
    for n in clients:
        line = f"{path} {n} pending ({calls} calls, 50 rows): " + _line("server", walls[n])
        line += "".join(f"; {_line(name, values)}" for name, values in parts[n].items())
        if len(clients) > 1:
            line += "; Redis per call: " + ", ".join(
                f"{c} {usec / calls_:.1f} us ({calls_ / calls:.1f} a page)"
                for c, (calls_, usec) in spent[n].items()
                if calls_
            )
        print(line)


async def _page(http: httpx.AsyncClient, path: str) -> httpx.Response:
    response = await http.get(path)
    if response.status_code != 200 or response.text.count('class="item"') != 50:
        raise RuntimeError(f"{path}: {response.status_code}, not a full first page")
    return response


async def _commandstats(redis: Redis) -> dict[str, tuple[int, int]]:
    """(calls, usec) so far of each of the page's commands, from every client."""
    info = await redis.info("commandstats")
    out = {}
    for c in _COMMANDS:
        stat = info.get(f"cmdstat_{c}", {})
        out[c] = (int(stat.get("calls", 0)), int(stat.get("usec", 0)))
    return out


def _line(name: str, seconds: Sequence[float]) -> str:
    q = Quantiles.of(seconds)
    return f"{name} p50 {q.p50:.1f} / p95 {q.p95:.1f} / p99 {q.p99:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--against", type=int, default=0, help="also N pending, in turn")
    parser.add_argument("--block", type=int, default=20, help="calls in a row to one of them")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    asyncio.run(measure(args.redis_url, args.pending, args.calls, args.against, args.block))


if __name__ == "__main__":
    main()
