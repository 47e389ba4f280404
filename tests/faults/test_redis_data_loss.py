"""Redis without AOF, killed with -9 under load, back from an older RDB snapshot: what was lost
is detected and reported, and never turns into a second, different outcome.

A private ``redis-server`` (a free loopback port, RDB ``--save 3600 1``, no AOF, a temporary
dir) and a real ``hitl broker`` on it; the shared Redis on 6379 is never touched. Phases:

1. ``before`` interactions are asked and wait (all notified), then a snapshot is taken (BGSAVE,
   awaited);
2. after it, half of them are approved (A; the other half, B, stay pending), ``after`` more
   are asked and half of those approved (C1; the rest, C2, stay pending);
3. the private Redis is killed with -9 and started again from the older snapshot: A comes back
   pending, C1 and C2 are gone.

Then: the broker logs the loss, counts it, publishes a ``store.data_loss`` event and records
its report; A keeps its approval (never timed out), C1 is made again, resolved as it was,
C2 is asked again and times out like B; every interaction is handed to the producer exactly
once and no interaction ever has two different outcomes on the wire.

Plain ``pytest`` runs a short version; ``pytest -m faults`` (any marker expression naming
faults) a longer one, with the 4,000 interactions of issue 16.
"""

import asyncio
import contextlib
import shutil
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import orjson
import pytest
from aio_pika.abc import AbstractRobustConnection
from redis.asyncio import Redis

from hitl.adapters.amqp.store_log import store_log_queue
from hitl.core.integrity import same_outcome
from hitl.sdk import HitlClient, Responder
from hitl_contract import InteractionOutcome
from hitl_contract.wire import Names
from tests.faults.test_broker_processes import (
    Brokers,
    Handed,
    approvals,
    broker_env,
    counter_total,
    eventually,
    free_ports,
    leftovers,
    stored,
    submit_all,
    tap,
)
from tests.helpers import answer
from tests.servers import AMQP_URL, REPLY_SERVICES, delete_namespace

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Scale:
    before: int  # asked before the snapshot (half answered after it)
    after: int  # asked after the snapshot (half answered)
    timeout: float  # each request's timeout_seconds
    wait: float  # how long the phases may take


SHORT = Scale(before=120, after=80, timeout=10.0, wait=30.0)
LONG = Scale(before=2000, after=2002, timeout=45.0, wait=120.0)


@pytest.fixture
def scale(request: pytest.FixtureRequest) -> Scale:
    asked = str(request.config.getoption("markexpr") or "")
    return LONG if "faults" in asked else SHORT


RDB_ONLY = ("--save", "3600 1", "--appendonly", "no")  # Redis's default: snapshots, no AOF
AOF_ALWAYS = ("--save", "", "--appendonly", "yes", "--appendfsync", "always")


class PrivateRedis:
    """A redis-server of the test's own, its files in ``directory`` (RDB snapshots only
    unless ``persistence`` says otherwise)."""

    def __init__(self, directory: Path, persistence: tuple[str, ...] = RDB_ONLY) -> None:
        self.directory = directory
        self.persistence = persistence
        self.port = free_ports(1)[0]
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        """Start it (loading ``dump.rdb`` when there is one) and wait until it answers."""
        assert self.process is None or self.process.returncode is not None
        server = shutil.which("redis-server")
        assert server, "redis-server is needed for the Redis fault tests"
        self.process = await asyncio.create_subprocess_exec(
            server,
            *("--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory)),
            *("--dbfilename", "dump.rdb", *self.persistence),
            *("--protected-mode", "no", "--daemonize", "no", "--logfile", "redis.log"),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        async with self.client() as redis:

            async def answers() -> bool:
                with contextlib.suppress(Exception):
                    return bool(await redis.ping())
                return False

            await until(answers, 20, lambda: f"private Redis on {self.port} did not start")

    @contextlib.asynccontextmanager
    async def client(self) -> AsyncIterator[Redis]:
        redis: Redis = Redis.from_url(self.url)
        try:
            yield redis
        finally:
            await redis.aclose()

    async def snapshot(self) -> None:
        """BGSAVE, and wait until the snapshot is on disk."""
        async with self.client() as redis:
            before = await redis.lastsave()
            await redis.bgsave()

            async def saved() -> bool:
                info = await redis.info("persistence")
                return (
                    await redis.lastsave() != before
                    and info["rdb_bgsave_in_progress"] == 0
                    and info["rdb_last_bgsave_status"] == "ok"
                )

            await until(saved, 20, lambda: "BGSAVE did not finish")

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        assert await self.process.wait() == -signal.SIGKILL

    async def close(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


async def until(
    check: Callable[[], Awaitable[bool]], timeout: float, why: Callable[[], str]
) -> None:
    """Poll an async predicate until it holds (no assertion on how long it took)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            pytest.fail(why())
        await asyncio.sleep(0.05)


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    await server.start()
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def loss_namespace() -> AsyncIterator[str]:
    """The namespace's queues live on the shared RabbitMQ (its keys on the private Redis)."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    await delete_namespace(name, extra_queues=REPLY_SERVICES)


async def integrity_record(server: PrivateRedis, namespace: str) -> dict[str, str]:
    async with server.client() as redis:
        raw = await redis.hgetall(f"{namespace}:store:integrity")
    return {text(k): text(v) for k, v in raw.items()}


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@pytest.mark.timeout(300)
async def test_redis_back_from_an_older_snapshot_is_detected_reported_and_never_decides_twice(
    private_redis: PrivateRedis,
    loss_namespace: str,
    amqp: AbstractRobustConnection,
    scale: Scale,
) -> None:
    namespace = loss_namespace
    names = Names(namespace)
    brokers = Brokers(namespace)
    metrics_port = free_ports(1)[0]
    handed = Handed()
    sent: dict[UUID, UUID] = {}  # interaction -> the response id of our approval
    try:
        broker = await brokers.start(
            HITL_REDIS_URL=private_redis.url, HITL_METRICS_PORT=str(metrics_port)
        )
        async with (
            Responder.connect(AMQP_URL, namespace=namespace) as responder,
            HitlClient.connect(
                AMQP_URL, service="producer", namespace=namespace, on_outcome=handed
            ) as client,
            tap(amqp, namespace, names.outcomes, "producer") as raw,
            tap(amqp, namespace, names.notifications, "#") as notified,
            tap(amqp, namespace, names.events, "store.#") as reports,
        ):

            def notified_ids() -> set[UUID]:
                return {UUID(orjson.loads(b)["interaction_id"]) for _, b in notified.arrivals}

            async def approve(ids: list[UUID]) -> None:
                for start in range(0, len(ids), 100):
                    responses = [
                        answer(i, "approve", who="auto@example.com")
                        for i in ids[start : start + 100]
                    ]
                    for response in responses:
                        sent[response.interaction_id] = response.response_id
                    await asyncio.gather(*(responder.respond(r, timeout=None) for r in responses))

            async def ask(n: int) -> list[UUID]:
                """``n`` approvals, once each is stored (notified)."""
                requests = approvals(client, n, timeout_seconds=scale.timeout)
                ids = [r.id for r in requests]
                await submit_all(client, requests)
                await eventually(
                    lambda: set(ids) <= notified_ids(),
                    scale.wait,
                    lambda: f"{len(set(ids) & notified_ids())} of {n} notified",
                )
                return ids

            # 1. asked and waiting, then the snapshot
            before = await ask(scale.before)
            await private_redis.snapshot()

            # 2. after the snapshot: A approved, B left; C asked, C1 approved, C2 left
            a, b = before[::2], before[1::2]
            await approve(a)
            after = await ask(scale.after)
            c1, c2 = after[::2], after[1::2]
            await approve(c1)
            await eventually(
                lambda: set(a + c1) <= set(handed.by_id),
                scale.wait,
                lambda: f"{len(set(a + c1) & set(handed.by_id))} of {len(a + c1)} approved",
            )

            # 3. kill -9, back from the older snapshot
            await private_redis.kill()
            await private_redis.start()

            async def reconciled() -> bool:
                record = await integrity_record(private_redis, namespace)
                return (
                    record.get("state") == "ok"
                    and b'"complete":true' in record.get("report", "").encode()
                )

            await until(
                reconciled, scale.wait, lambda: f"not reconciled; broker log:\n{broker.log[-4000:]}"
            )
            everyone = before + after
            await eventually(
                lambda: set(everyone) <= set(handed.by_id) and bool(reports.arrivals),
                scale.wait + scale.timeout,
                lambda: (
                    f"{len(set(everyone) & set(handed.by_id))} of {len(everyone)} handed, "
                    f"{len(reports.arrivals)} loss reports"
                ),
            )
            await asyncio.sleep(2.5)  # a duplicate from the relay would arrive by now
            metrics = await brokers.metrics(broker)
            record = await integrity_record(private_redis, namespace)
            async with private_redis.client() as redis:
                states = await stored(redis, namespace, everyone)
                left = await leftovers(redis, namespace)
    finally:
        await brokers.close()
        with contextlib.suppress(Exception):
            await delete_namespace(namespace, extra_queues=(store_log_queue(names),))

    sets = Sets(a=a, b=b, c1=c1, c2=c2)
    check_reported(broker.log, metrics, record, reports.arrivals, sets)
    check_outcomes(handed, raw.outcomes(), states, sent, sets)
    assert left == {"pending": 0, "outbox": 0}


@dataclass(frozen=True)
class Sets:
    a: list[UUID]  # pending in the snapshot, approved after it
    b: list[UUID]  # pending in the snapshot, left to time out
    c1: list[UUID]  # asked and approved after the snapshot
    c2: list[UUID]  # asked after the snapshot, left to time out


def check_reported(
    log: str,
    metrics: str,
    record: dict[str, str],
    events: list[tuple[float, bytes]],
    sets: Sets,
) -> None:
    """Detected and reported: the log, the metrics, the integrity record, the event."""
    assert "DATA LOSS in Redis" in log, log[-4000:]
    assert counter_total(metrics, "hitl_store_data_loss_total", found="transitions") > 0
    assert gauge(metrics, "hitl_store_fenced") == 0
    report = orjson.loads(record["report"])
    print(
        f"\n{sum(len(ids) for ids in vars(sets).values())} interactions: "
        f"{sum(loss['seen'] - loss['found'] for loss in report['losses'])} committed "
        f"transitions lost over {len(report['losses'])} shards; {report['read']} log messages "
        f"read; found {report['counts']}; reconciled in {report['seconds']:.2f}s"
    )
    counts = report["counts"]
    assert counts == {
        "outcome_restored": len(sets.a),
        "state_restored": len(sets.c1),
        "request_recreated": len(sets.c2),
        "state_lost": 0,
        "second_outcome": 0,
    }, report
    for found, ids in (("outcome_restored", sets.a), ("request_recreated", sets.c2)):
        listed = set(report["ids"][found])  # the report lists up to 1,000 of each
        assert listed <= {str(i) for i in ids} and len(listed) == min(len(ids), 1000)
    for found, n in counts.items():
        assert counter_total(metrics, "hitl_store_data_loss_total", found=found) == n
    event = orjson.loads(events[-1][1])
    assert event["counts"] == counts
    assert event["losses"]


def check_outcomes(
    handed: Handed,
    wire: dict[UUID, list[tuple[float, InteractionOutcome]]],
    states: dict[UUID, tuple[str | None, InteractionOutcome | None]],
    sent: dict[UUID, UUID],
    sets: Sets,
) -> None:
    """Never a second, different outcome; each handed to the producer exactly once."""
    everyone = sets.a + sets.b + sets.c1 + sets.c2
    assert {iid: len(handed.by_id[iid]) for iid in everyone} == dict.fromkeys(everyone, 1)
    assert set(wire) == set(everyone)
    twice = {
        iid: [(o.status.value, o.action) for _, o in got]
        for iid, got in wire.items()
        if not all(same_outcome(o, got[0][1]) for _, o in got)
    }
    assert not twice, f"{len(twice)} interactions with two different outcomes: {twice}"
    for iid in everyone:
        (outcome,) = handed.by_id[iid]
        status, recorded = states[iid]
        assert recorded is not None and same_outcome(recorded, outcome), (
            iid,
            status,
            recorded,
            outcome,
        )
        if iid in sets.b or iid in sets.c2:
            assert outcome.status == status == "timed_out", (iid, outcome)
        else:
            assert status == "resolved", (iid, status)
            got = (outcome.status, outcome.action, outcome.response_id)
            assert got == ("resolved", "approve", sent[iid])


def gauge(metrics: str, name: str) -> float:
    """The value of a gauge without labels."""
    (value,) = [line.split()[1] for line in metrics.splitlines() if line.startswith(name + " ")]
    return float(value)


async def http_get(port: int, path: str) -> tuple[int, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
        await writer.drain()
        response = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = response.decode().partition("\r\n\r\n")
    return int(head.split()[1]), body


async def hitl_store(server: PrivateRedis, namespace: str, *args: str) -> tuple[int, str]:
    env = broker_env(namespace, HITL_REDIS_URL=server.url)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "hitl.cli.main", "store", *args),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    return await process.wait(), out.decode()


@pytest.mark.timeout(120)
async def test_without_the_store_log_the_store_stays_fenced_until_an_operator_acks(
    private_redis: PrivateRedis, loss_namespace: str, amqp: AbstractRobustConnection
) -> None:
    """Redis restarts and the store log cannot be read (here: deleted): the broker cannot
    know what was lost, so nothing is decided (readiness false, timers held, answers wait)
    until ``hitl store ack``; then the answer and the overdue timer each decide once."""
    namespace = loss_namespace
    names = Names(namespace)
    brokers = Brokers(namespace)
    port = free_ports(1)[0]
    handed = Handed()
    try:
        broker = await brokers.start(HITL_REDIS_URL=private_redis.url, HITL_METRICS_PORT=str(port))
        async with (
            Responder.connect(AMQP_URL, namespace=namespace) as responder,
            HitlClient.connect(
                AMQP_URL, service="producer", namespace=namespace, on_outcome=handed
            ) as client,
            tap(amqp, namespace, names.outcomes, "producer") as raw,
        ):
            (overdue,) = approvals(client, 1, timeout_seconds=3.0)
            (answered,) = approvals(client, 1, timeout_seconds=300.0)
            await submit_all(client, [overdue, answered])
            async with private_redis.client() as redis:

                async def both_pending() -> bool:
                    states = await stored(redis, namespace, [overdue.id, answered.id])
                    return {st for st, _ in states.values()} == {"pending"}

                await until(both_pending, 20, lambda: "the requests were not stored")
            await private_redis.snapshot()
            channel = await amqp.channel()
            await channel.queue_delete(store_log_queue(names))
            await channel.close()

            await private_redis.kill()
            await private_redis.start()

            async def fenced() -> bool:
                return (await integrity_record(private_redis, namespace)).get("state") == "fenced"

            await until(fenced, 30, lambda: f"not fenced; broker log:\n{broker.log[-3000:]}")
            status, body = await http_get(port, "/readyz")
            assert status == 503 and "store integrity: store fenced" in body, body
            assert gauge(await brokers.metrics(broker), "hitl_store_fenced") == 1
            code, said = await hitl_store(private_redis, namespace, "status")
            assert code == 1 and "fenced shards: 8 of 8" in said, said

            await responder.respond(answer(answered.id, "approve"), timeout=None)
            deadline = time.time() + 3.0 + 1.0  # the overdue timer is due well before this
            while time.time() < deadline:
                await asyncio.sleep(0.1)
            async with private_redis.client() as redis:
                states = await stored(redis, namespace, [overdue.id, answered.id])
            assert {st for st, _ in states.values()} == {"pending"}, states
            assert not handed.by_id and not raw.arrivals

            code, said = await hitl_store(private_redis, namespace, "ack", "--reason", "test")
            assert code == 0, said
            await eventually(
                lambda: len(handed.by_id) == 2,
                20,
                lambda: f"{len(handed.by_id)} of 2 handed after the ack",
            )
            await asyncio.sleep(2.5)  # a duplicate from the relay would arrive by now
            status, body = await http_get(port, "/readyz")
    finally:
        await brokers.close()

    assert status == 200, body
    assert handed.by_id[overdue.id][0].status == "timed_out"
    assert handed.by_id[answered.id][0].action == "approve"
    assert {iid: len(got) for iid, got in raw.outcomes().items()} == {
        overdue.id: 1,
        answered.id: 1,
    }
    assert "store reconciliation failed (try 1); the store stays fenced" in broker.log
