"""hitl's HTTP side under test: a real ``hitl gateway`` process, with an API key made by
``hitl keys create``, and what is measured through it:

- answering through the gateway: a broker and a gateway on a namespace of their own, the same
  SDK producers as the AMQP path, and the same auto-responder, which answers each
  notification with ``POST /v1/interactions/{id}/responses`` (the gateway waits for the
  broker's receipt) and acks the notification once the gateway replied;
- listing the first page and a thread's pending interactions, through the gateway's HTTP and
  straight through the store's read port (``RedisReads.query`` with the query the gateway's
  route builds), on the growth namespace with N pending.

The HTTP client is ``hitl_bench.http`` (see there why not httpx).
"""

import asyncio
import random
import re
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson
from redis.asyncio import Redis

from hitl.adapters.redis.keys import Keys
from hitl.adapters.redis.reads import RedisReads
from hitl.gateway.cursors import Filters
from hitl_bench.hitl_side import HitlRig
from hitl_bench.http import HttpClient, HttpError
from hitl_bench.procs import Child, start_child
from hitl_bench.scenario import AutoResponder
from hitl_bench.stats import Quantiles

GATEWAY = "gateway"  # the system name of its samples
IDENTITY = "bench-bot"  # the identity of the AMQP path's answers too
_READY = re.compile(r"gateway ready: namespace=\S+ (http://\S+)")


async def create_key(env: Mapping[str, str], scopes: Sequence[str]) -> str:
    """A new API key for ``IDENTITY``, from ``hitl keys create`` with ``env``'s settings."""
    args = ["keys", "create", "--identity", IDENTITY, "--channel", "bench", "--json"]
    args += ["--name", "hitl bench"] + [a for s in scopes for a in ("--scope", s)]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hitl.cli.main",
        *args,
        env=dict(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"hitl keys create failed ({process.returncode}): {err.decode()}")
    key: str = orjson.loads(out)["key"]
    return key


@dataclass
class Gateway:
    """A ``hitl gateway`` process and a client holding a key with ``scopes``."""

    child: Child
    url: str
    key: str
    client: HttpClient

    @classmethod
    async def start(
        cls,
        env: Mapping[str, str],
        name: str,
        log_dir: Path,
        scopes: Sequence[str],
        *,
        wrapper: Sequence[str] = (),
    ) -> "Gateway":
        env = {**env, "HITL_GATEWAY_HOST": "127.0.0.1", "HITL_GATEWAY_PORT": "0"}
        key = await create_key(env, scopes)
        child = await start_child(
            name,
            ["hitl.cli.main", "gateway"],
            env,
            log_dir,
            ready="gateway ready",
            wrapper=wrapper,
            ready_timeout=600.0 if wrapper else 60.0,
        )
        found = _READY.search(child.log_path.read_text(errors="replace"))
        if found is None:
            await child.stop()
            raise RuntimeError(f"{name}: no address in its ready line:\n{child.log_tail()}")
        url = found.group(1)
        return cls(child, url, key, HttpClient(url, {"authorization": f"Bearer {key}"}))

    async def stop(self) -> None:
        await self.client.close()
        await self.child.stop()


def http_answer(body: bytes) -> tuple[str, str, bytes]:
    """The bench bot's answer (``scenario.answer_notification``) as the gateway's body: the
    responder is the key's identity, never the body's."""
    iid = orjson.loads(body)["interaction_id"]
    answer = {
        "action": "approve",
        "data": {"reason": "within budget"},
        "response_id": str(uuid.uuid4()),
    }
    return iid, iid, orjson.dumps(answer)


@dataclass
class GatewayRig:
    """hitl answered over HTTP: a broker (``HitlRig``) and a gateway on one namespace."""

    hitl: HitlRig
    name: str = GATEWAY
    gateway: Gateway | None = None

    @property
    def responder(self) -> AutoResponder:
        return self.hitl.responder

    @property
    def url(self) -> str:
        assert self.gateway is not None
        return self.gateway.url

    @property
    def key(self) -> str:
        assert self.gateway is not None
        return self.gateway.key

    @property
    def gateway_pid(self) -> int:
        assert self.gateway is not None
        return self.gateway.child.pid

    async def start(self) -> None:
        await self.hitl.start()
        self.gateway = await Gateway.start(
            self.hitl.env(),
            f"{self.hitl.namespace}-gateway",
            self.hitl.log_dir,
            ("read", "respond"),
        )
        self.answer_over_http(True)

    def answer_over_http(self, on: bool) -> None:
        """Answers through the gateway (``on``) or over AMQP, as the ``hitl`` rig's."""
        if on:
            self.responder.answer_over(http_answer, self._post)
        else:
            self.responder.answer_over()

    async def _post(self, interaction_id: str, body: bytes) -> None:
        assert self.gateway is not None
        response = await self.gateway.client.post_json(
            f"/v1/interactions/{interaction_id}/responses", body
        )
        if response.status != 200:
            raise HttpError(f"answer {interaction_id}: HTTP {response.status} {response.body!r}")

    async def ask_one(self, seq: int) -> tuple[str, float, float]:
        return await self.hitl.ask_one(seq)

    def cpu_groups(self) -> Mapping[str, Sequence[int]]:
        groups = dict(self.hitl.cpu_groups())
        groups["service"] = [*groups["service"], self.gateway_pid]  # broker and gateway
        groups["gateway"] = [self.gateway_pid]
        return groups

    async def close(self) -> None:
        if self.gateway is not None:
            await self.gateway.stop()
        await self.hitl.close()


# ---- reads with N pending ------------------------------------------------------------------

FIRST_PAGE = "first page"
THREAD = "thread"


@dataclass(frozen=True, slots=True)
class ReadSample:
    pending: int
    what: str  # FIRST_PAGE or THREAD
    http: Quantiles  # GET through the gateway
    store: Quantiles  # the same query on the store's read port, from the bench process
    items: float = 0.0  # interactions per answer, the mean

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def _timed(calls: int, fn: Callable[[int], Awaitable[int]]) -> tuple[list[float], int]:
    times, items = [], 0
    for i in range(calls):
        start = time.perf_counter()
        items += await fn(i)
        times.append(time.perf_counter() - start)
    return times, items


async def measure_reads(
    gateway: Gateway, redis_url: str, namespace: str, shards: int, pending: int, calls: int
) -> list[ReadSample]:
    """``calls`` times the first page of pending interactions (newest first, 50) and a seeded
    thread's pending interactions, through the gateway and through the store."""
    threads = max(1, pending // 10)  # hitl_bench.growth.seed puts 10 in each thread
    pick = random.Random(pending)
    thread_of = [f"seed-{pick.randrange(threads)}" for _ in range(calls)]

    async def http(path: str) -> int:
        response = await gateway.client.get(path)
        if response.status != 200:
            raise HttpError(f"GET {path}: HTTP {response.status} {response.body[:300]!r}")
        body = response.json()
        assert isinstance(body, dict)
        return len(body["items"])

    redis: Redis = Redis.from_url(redis_url)
    reads = RedisReads(redis, Keys(namespace, shards))
    page_filters = Filters(status="pending", newest_first=True)

    def thread_filters(i: int) -> Filters:
        return Filters(status="pending", thread_id=thread_of[i], newest_first=False)

    async def store_page(_: int) -> int:
        return len((await reads.query(page_filters.query(50, None))).items)

    async def store_thread(i: int) -> int:
        return len((await reads.query(thread_filters(i).query(50, None))).items)

    async def http_page(_: int) -> int:
        return await http("/v1/interactions?status=pending&limit=50")

    async def http_thread(i: int) -> int:
        return await http(f"/v1/threads/{thread_of[i]}/pending")

    out = []
    try:
        for what, over_http, in_store in (
            (FIRST_PAGE, http_page, store_page),
            (THREAD, http_thread, store_thread),
        ):
            await _timed(min(calls, 20), over_http)  # warm-up
            await _timed(min(calls, 20), in_store)
            http_times, items = await _timed(calls, over_http)
            store_times, _ = await _timed(calls, in_store)
            sample = ReadSample(
                pending, what, Quantiles.of(http_times), Quantiles.of(store_times), items / calls
            )
            out.append(sample)
    finally:
        await redis.aclose()
    return out
