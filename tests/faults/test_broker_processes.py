"""``hitl broker`` as real processes: competing replicas, SIGKILL mid-flight, SIGTERM draining,
and start-up retries.

Each test runs the broker exactly as an operator would (``python -m hitl.cli.main broker`` with
``HITL_*`` variables), on its own namespace. Outcomes are counted twice: as the SDK hands them to
the producer (must be exactly once per interaction), and raw, on a queue of our own bound to the
outcomes exchange with the producer's routing key (exactly once without a crash; after a crash
only identical republishes of the committed outcome are allowed).
"""

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import pytest
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from redis.asyncio import Redis

from hitl.adapters.amqp.topology import declare_exchanges
from hitl.adapters.redis.keys import Keys
from hitl.cli.errors import Exit
from hitl.sdk import HitlClient, Responder
from hitl_contract import InteractionOutcome, InteractionRequest, LifecycleEvents, Notification
from hitl_contract.wire import Names
from tests.helpers import answer
from tests.servers import AMQP_URL, REDIS_URL

pytestmark = pytest.mark.slow

BROKER_CMD = (sys.executable, "-m", "hitl.cli.main", "broker")
SHARDS = 8
GRACE_SECONDS = 5.0
OUTBOX_LEASE_SECONDS = 1.0
# Long enough for the relay (outbox lease + a poll) to republish anything left behind.
LINGER_SECONDS = OUTBOX_LEASE_SECONDS + 1.5


# --- broker processes -----------------------------------------------------------------------


@dataclass
class BrokerProcess:
    process: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    reader: "asyncio.Task[None] | None" = None
    metrics_port: int = 0

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    def problems(self) -> list[str]:
        """Warnings, errors and tracebacks it logged."""
        return [
            line
            for line in self.lines
            if " WARNING " in line or " ERROR " in line or line.startswith("Traceback")
        ]

    async def _read(self) -> None:
        assert self.process.stderr is not None
        async for raw in self.process.stderr:
            line = raw.decode(errors="replace").rstrip()
            self.lines.append(line)
            if "broker ready" in line:
                self.ready.set()


def broker_env(namespace: str, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HITL_")}
    env.update(
        {
            "HITL_AMQP_URL": AMQP_URL,
            "HITL_REDIS_URL": REDIS_URL,
            "HITL_NAMESPACE": namespace,
            "HITL_METRICS_PORT": "0",
            "HITL_POLL_INTERVAL_SECONDS": "0.05",
            "HITL_OUTBOX_LEASE_SECONDS": str(OUTBOX_LEASE_SECONDS),
            "HITL_CLAIM_LEASE_SECONDS": "2",
            "HITL_SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS),
            "HITL_SHARDS": str(SHARDS),
            "HITL_STARTUP_ATTEMPTS": "5",
            "HITL_LOG_FORMAT": "text",
            "HITL_LOG_LEVEL": "INFO",
        }
    )
    env.update(overrides)
    return env


class Brokers:
    """Starts ``hitl broker`` processes for one namespace; kills whatever is left at teardown."""

    def __init__(self, namespace: str, command: tuple[str, ...] = BROKER_CMD) -> None:
        self.namespace = namespace
        self.command = command
        self.started: list[BrokerProcess] = []

    async def start(self, *, wait_ready: bool = True, **env: str) -> BrokerProcess:
        process = await asyncio.create_subprocess_exec(
            *self.command,
            env=broker_env(self.namespace, **env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        broker = BrokerProcess(process, metrics_port=int(env.get("HITL_METRICS_PORT", "0")))
        broker.reader = asyncio.create_task(broker._read())
        self.started.append(broker)
        if wait_ready:
            await self._until_ready(broker)
        return broker

    async def _until_ready(self, broker: BrokerProcess, timeout: float = 20.0) -> None:
        """Ready = it logged "broker ready", which it does after both consumers attached."""
        ready = asyncio.create_task(broker.ready.wait())
        exited = asyncio.create_task(broker.process.wait())
        try:
            await asyncio.wait(
                {ready, exited}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            ready.cancel()
            exited.cancel()
        if not broker.ready.is_set():
            pytest.fail(
                f"broker not ready after {timeout}s (exit code "
                f"{broker.process.returncode}); its log:\n{broker.log}"
            )

    async def exit_code(self, broker: BrokerProcess, timeout: float) -> int:
        try:
            code = await asyncio.wait_for(broker.process.wait(), timeout)
        except TimeoutError:
            pytest.fail(f"broker still running {timeout}s later; its log:\n{broker.log}")
        if broker.reader is not None:
            await broker.reader
        return code

    async def metrics(self, broker: BrokerProcess) -> str:
        """The Prometheus text of a broker started with ``HITL_METRICS_PORT``."""
        reader, writer = await asyncio.open_connection("127.0.0.1", broker.metrics_port)
        try:
            writer.write(b"GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n")
            await writer.drain()
            response = await asyncio.wait_for(reader.read(), 10)
        finally:
            writer.close()
            await writer.wait_closed()
        return response.partition(b"\r\n\r\n")[2].decode()

    async def stop(
        self,
        broker: BrokerProcess,
        sig: signal.Signals = signal.SIGTERM,
        timeout: float = GRACE_SECONDS + 5,
    ) -> int:
        broker.process.send_signal(sig)
        return await self.exit_code(broker, timeout)

    async def close(self) -> None:
        for broker in self.started:
            if broker.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    broker.process.kill()
                await broker.process.wait()
            if broker.reader is not None:
                await broker.reader


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def counter_total(metrics: str, name: str, **labels: str) -> float:
    """Sum of a Prometheus counter's samples whose labels include ``labels``."""
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.fixture
async def brokers(namespace: str) -> AsyncIterator[Brokers]:
    processes = Brokers(namespace)
    try:
        yield processes
    finally:
        await processes.close()


# --- what arrives where ----------------------------------------------------------------------


@dataclass
class Tap:
    """Every message published to an exchange under a binding, with when it arrived."""

    arrivals: list[tuple[float, bytes]] = field(default_factory=list)
    then: Callable[[bytes], Awaitable[None]] | None = None

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        self.arrivals.append((time.monotonic(), message.body))
        if self.then is not None:
            await self.then(message.body)

    def outcomes(self) -> dict[UUID, list[tuple[float, InteractionOutcome]]]:
        by_id: dict[UUID, list[tuple[float, InteractionOutcome]]] = defaultdict(list)
        for at, body in self.arrivals:
            outcome = InteractionOutcome.model_validate_json(body)
            by_id[outcome.interaction_id].append((at, outcome))
        return by_id

    def event_ids(self) -> dict[UUID | None, set[str | None]]:
        """The distinct event ids per interaction (a republished event keeps its id)."""
        ids: dict[UUID | None, set[str | None]] = defaultdict(set)
        for _, body in self.arrivals:
            for event in LifecycleEvents.model_validate_json(body).events:
                ids[event.interaction_id].add(event.event_id)
        return ids

    def event_counts(self) -> dict[UUID | None, int]:
        counts: dict[UUID | None, int] = defaultdict(int)
        for _, body in self.arrivals:
            for event in LifecycleEvents.model_validate_json(body).events:
                counts[event.interaction_id] += 1
        return counts


@contextlib.asynccontextmanager
async def tap(
    amqp: AbstractRobustConnection,
    namespace: str,
    exchange: str,
    binding: str,
    then: Callable[[bytes], Awaitable[None]] | None = None,
) -> AsyncIterator[Tap]:
    channel = await amqp.channel()
    try:
        await declare_exchanges(channel, Names(namespace))
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, binding)
        taken = Tap(then=then)
        await queue.consume(taken.on_message, no_ack=True)
        yield taken
    finally:
        await channel.close()


class Handed:
    """The SDK's ``on_outcome``: what the producer's code received, per interaction."""

    def __init__(self) -> None:
        self.by_id: dict[UUID, list[InteractionOutcome]] = defaultdict(list)

    async def __call__(self, outcome: InteractionOutcome) -> None:
        self.by_id[outcome.interaction_id].append(outcome)


async def eventually(
    condition: Callable[[], bool], timeout: float, progress: Callable[[], str]
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {timeout}s: {progress()}")
        await asyncio.sleep(0.05)


def approvals(client: HitlClient, n: int, **fields: Any) -> list[InteractionRequest]:
    return [
        client.new_request(
            "approval", thread_id=f"run-{i % 7}", prompt=f"Approve step {i}?", **fields
        )
        for i in range(n)
    ]


async def submit_all(client: HitlClient, requests: Sequence[InteractionRequest]) -> None:
    for start in range(0, len(requests), 100):
        await asyncio.gather(*(client.submit(r) for r in requests[start : start + 100]))


async def stored(
    redis: "Redis", namespace: str, ids: Sequence[UUID]
) -> dict[UUID, tuple[str | None, InteractionOutcome | None]]:
    """Status and outcome of each interaction as Redis holds them."""
    keys = Keys(namespace, SHARDS)
    async with redis.pipeline(transaction=False) as pipe:
        for iid in ids:
            pipe.hmget(keys.interaction(keys.shard(iid), iid), ["st", "out"])
        rows = await pipe.execute()
    return {
        iid: (
            st.decode() if st else None,
            InteractionOutcome.model_validate_json(out) if out else None,
        )
        for iid, (st, out) in zip(ids, rows, strict=True)
    }


async def leftovers(redis: "Redis", namespace: str) -> dict[str, int]:
    """Interactions still pending and outbox entries nobody published, over all shards."""
    keys = Keys(namespace, SHARDS)
    async with redis.pipeline(transaction=False) as pipe:
        for shard in range(SHARDS):
            pipe.zcard(keys.pending(shard))
            pipe.zcard(keys.outbox(shard))
        counts = await pipe.execute()
    return {"pending": sum(counts[0::2]), "outbox": sum(counts[1::2])}


async def queue_depth(amqp: AbstractRobustConnection, queue: str) -> tuple[int, int]:
    """(ready messages, consumers) of a queue."""
    channel = await amqp.channel()
    try:
        declared = await channel.declare_queue(queue, passive=True)
        result = declared.declaration_result
        return result.message_count or 0, result.consumer_count or 0
    finally:
        await channel.close()


def assert_handed_once(handed: Handed, ids: Sequence[UUID]) -> None:
    counts = {iid: len(handed.by_id.get(iid, [])) for iid in ids}
    wrong = {iid: n for iid, n in counts.items() if n != 1}
    assert not wrong, f"{len(wrong)} interactions were not handed over exactly once: {wrong}"
    assert set(handed.by_id) == set(ids), "the SDK handed over outcomes of unknown interactions"


# --- tests ------------------------------------------------------------------------------------


@pytest.mark.timeout(60)
async def test_two_brokers_time_out_each_interaction_exactly_once(
    brokers: Brokers, namespace: str, amqp: AbstractRobustConnection, redis: "Redis"
) -> None:
    names = Names(namespace)
    ports = free_ports(2)
    replicas = [await brokers.start(HITL_METRICS_PORT=str(port)) for port in ports]
    handed = Handed()
    async with (
        tap(amqp, namespace, names.outcomes, "producer") as raw,
        tap(amqp, namespace, names.events, "timed_out.#") as timed_out,
        HitlClient.connect(
            AMQP_URL, service="producer", namespace=namespace, on_outcome=handed
        ) as client,
    ):
        requests = approvals(
            client,
            200,
            timeout_seconds=0.5,
            on_timeout={"action": "reject", "data": {"reason": "nobody answered"}},
        )
        ids = [r.id for r in requests]
        await submit_all(client, requests)

        await eventually(
            lambda: (
                len(handed.by_id) == len(ids)
                and len(raw.outcomes()) == len(ids)
                and len(timed_out.event_counts()) == len(ids)
            ),
            30,
            lambda: (
                f"{len(handed.by_id)} handed, {len(raw.arrivals)} raw outcomes, "
                f"{len(timed_out.arrivals)} timed_out events of {len(ids)}"
            ),
        )
        await asyncio.sleep(LINGER_SECONDS)  # a duplicate would come from the relay by now
        metrics = [await brokers.metrics(broker) for broker in replicas]

    assert_handed_once(handed, ids)
    for outcomes in handed.by_id.values():
        outcome = outcomes[0]
        assert (outcome.status, outcome.action, outcome.data, outcome.decided_by.type) == (
            "timed_out",
            "reject",
            {"reason": "nobody answered"},
            "timeout",
        )
    raw_counts = {iid: len(v) for iid, v in raw.outcomes().items()}
    assert set(raw_counts) == set(ids)
    duplicated = {iid: n for iid, n in raw_counts.items() if n != 1}
    assert not duplicated, f"outcomes published more than once without any crash: {duplicated}"
    events = timed_out.event_counts()
    assert set(events) == set(ids)
    assert all(n == 1 for n in events.values()), {i: n for i, n in events.items() if n != 1}
    states = await stored(redis, namespace, ids)
    assert {st for st, _ in states.values()} == {"timed_out"}
    assert await leftovers(redis, namespace) == {"pending": 0, "outbox": 0}
    # Both replicas competed: each took requests, each poller fired deadlines, and together
    # they finished each interaction once. Nothing went wrong, so nothing was retried.
    requested = [counter_total(m, "hitl_requests_total") for m in metrics]
    fired = [counter_total(m, "hitl_outcomes_total", status="timed_out") for m in metrics]
    assert all(requested) and all(fired), f"requests {requested}, timeouts fired {fired}"
    assert sum(requested) == sum(fired) == len(ids)
    for broker in replicas:
        assert broker.problems() == []


@pytest.mark.timeout(90)
async def test_sigkill_mid_flight_loses_nothing_and_duplicates_only_republish(
    brokers: Brokers, namespace: str, amqp: AbstractRobustConnection, redis: "Redis"
) -> None:
    names = Names(namespace)
    n = 1000
    broker = await brokers.start()
    handed = Handed()
    answered: dict[UUID, UUID] = {}  # interaction id -> response id we sent
    notified: dict[UUID, int] = defaultdict(int)
    async with (
        Responder.connect(AMQP_URL, namespace=namespace) as responder,
        HitlClient.connect(
            AMQP_URL, service="producer", namespace=namespace, on_outcome=handed
        ) as client,
    ):

        async def approve(body: bytes) -> None:  # a notifier bot whose person approves at once
            note = Notification.model_validate_json(body)
            notified[note.interaction_id] += 1
            if note.interaction_id in answered:
                return
            response = answer(note.interaction_id, "approve", who="auto@example.com")
            answered[note.interaction_id] = response.response_id
            await responder.respond(response, timeout=None)

        async with (
            tap(amqp, namespace, names.outcomes, "producer") as raw,
            tap(amqp, namespace, names.notifications, "#", then=approve),
        ):
            requests = approvals(client, n)
            ids = [r.id for r in requests]
            await submit_all(client, requests)

            await eventually(
                lambda: len(handed.by_id) >= 200,
                40,
                lambda: f"{len(handed.by_id)} outcomes before the kill",
            )
            killed_at = time.monotonic()
            assert await brokers.stop(broker, signal.SIGKILL) == -signal.SIGKILL
            at_kill = len(handed.by_id)
            await brokers.start()

            await eventually(
                lambda: len(handed.by_id) == n,
                60,
                lambda: (
                    f"{len(handed.by_id)} of {n} handed, {len(answered)} "
                    f"answered, {len(raw.arrivals)} raw outcomes"
                ),
            )
            await asyncio.sleep(LINGER_SECONDS)

    assert_handed_once(handed, ids)
    assert set(answered) == set(ids)
    for iid, (outcome,) in handed.by_id.items():
        assert (outcome.status, outcome.action, outcome.response_id) == (
            "resolved",
            "approve",
            answered[iid],
        )
    states = await stored(redis, namespace, ids)
    for iid, (status, recorded) in states.items():
        assert status == "resolved", (iid, status)
        assert recorded is not None
        assert recorded.response_id == answered[iid]
    assert await leftovers(redis, namespace) == {"pending": 0, "outbox": 0}

    deliveries = raw.outcomes()
    assert set(deliveries) == set(ids), f"{len(set(ids) - set(deliveries))} ids got no outcome"
    duplicates = 0
    for iid, arrivals in deliveries.items():
        first = arrivals[0][1]
        for at, again in arrivals[1:]:
            duplicates += 1
            assert again == first, f"{iid}: a second, different outcome {again} after {first}"
            assert at > killed_at, f"{iid}: duplicate outcome before the crash"
        assert first == handed.by_id[iid][0]
    print(
        f"\nSIGKILL after {at_kill} outcomes: {duplicates} duplicate raw outcome deliveries, "
        f"{sum(notified.values()) - n} duplicate notifications"
    )


@pytest.mark.timeout(90)
async def test_sigterm_drains_then_a_new_broker_finishes_the_batch(
    brokers: Brokers, namespace: str, amqp: AbstractRobustConnection, redis: "Redis"
) -> None:
    names = Names(namespace)
    n = 1000
    broker = await brokers.start()
    handed = Handed()
    async with (
        tap(amqp, namespace, names.outcomes, "producer") as raw,
        tap(amqp, namespace, names.notifications, "#") as notified,
        HitlClient.connect(
            AMQP_URL, service="producer", namespace=namespace, on_outcome=handed
        ) as client,
    ):
        requests = approvals(client, n, timeout_seconds=1.5)
        ids = [r.id for r in requests]
        await submit_all(client, requests)

        await eventually(
            lambda: len(notified.arrivals) >= 100,
            30,
            lambda: f"{len(notified.arrivals)} notifications",
        )
        signalled = time.monotonic()
        code = await brokers.stop(broker, signal.SIGTERM, timeout=GRACE_SECONDS + 5)
        took = time.monotonic() - signalled
        assert code == 0, broker.log[-3000:]
        assert "shutting down" in broker.log
        assert broker.lines[-1].endswith("broker stopped"), broker.log[-3000:]
        assert broker.problems() == []
        waiting, consumers = await queue_depth(amqp, names.requests_queue)
        assert consumers == 0
        assert waiting > 0, "the broker finished the whole batch before SIGTERM: test is void"

        await brokers.start()
        await eventually(
            lambda: len(handed.by_id) == n,
            40,
            lambda: f"{len(handed.by_id)} of {n} handed after the restart",
        )
        await asyncio.sleep(LINGER_SECONDS)

    assert_handed_once(handed, ids)
    assert {o.status for (o,) in handed.by_id.values()} == {"timed_out"}
    raw_counts = {iid: len(v) for iid, v in raw.outcomes().items()}
    assert set(raw_counts) == set(ids)
    assert all(c == 1 for c in raw_counts.values()), "a graceful stop must not duplicate"
    states = await stored(redis, namespace, ids)
    assert {st for st, _ in states.values()} == {"timed_out"}
    assert await leftovers(redis, namespace) == {"pending": 0, "outbox": 0}
    print(f"\nSIGTERM: exited 0 in {took:.2f}s, {waiting} of {n} requests left for the next broker")


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("variable", "url", "named"),
    [
        (
            "HITL_AMQP_URL",
            "amqp://guest:s3cret@127.0.0.1:1/",
            "RabbitMQ at amqp://guest:***@127.0.0.1:1/",
        ),
        ("HITL_REDIS_URL", "redis://:s3cret@127.0.0.1:1/0", "Redis at redis://:***@127.0.0.1:1/0"),
    ],
    ids=["rabbitmq", "redis"],
)
async def test_startup_gives_up_after_bounded_retries_naming_what_it_waited_for(
    brokers: Brokers, variable: str, url: str, named: str
) -> None:
    broker = await brokers.start(wait_ready=False, HITL_STARTUP_ATTEMPTS="2", **{variable: url})
    # Bounded: two tries, then exit (exit_code fails the test if it never comes).
    code = await brokers.exit_code(broker, timeout=15)

    assert code == Exit.UNREACHABLE, broker.log  # 7, as docs/cli.md lists it
    assert f"waiting for {named} (try 1/2" in broker.log
    assert f"hitl: {variable}: {named} not reachable after 2 tries" in broker.log
    assert "s3cret" not in broker.log
    assert not broker.ready.is_set()


@pytest.mark.timeout(30)
async def test_sigterm_while_waiting_for_rabbitmq_at_startup_exits_promptly(
    brokers: Brokers,
) -> None:
    broker = await brokers.start(
        wait_ready=False,
        HITL_STARTUP_ATTEMPTS="30",
        HITL_AMQP_URL="amqp://guest:guest@127.0.0.1:1/",
    )
    await eventually(
        lambda: "waiting for RabbitMQ" in broker.log,
        10,
        lambda: f"no retry logged; its log:\n{broker.log}",
    )
    await brokers.stop(broker, signal.SIGTERM, timeout=3)
