"""An approval round trip through LangGraph's own interrupt and resume, against the same
through the LangGraph adapter over hitl, in the same run (issue 17).

Both sides run the same graph, one node that asks an approval with ``ask_human``, each on a
LangGraph AsyncSqliteSaver of its own (a file in a temp directory):

- **langgraph**: the graph stops at its ``interrupt()``; this process resumes it at once with
  ``Command(resume=...)`` carrying the answer an instant person would give. What a LangGraph
  user runs without hitl (and without channels, timeouts, audit or a second process).
- **hitl**: ``HitlGraph.ainvoke`` stops at the interrupt and publishes it as an hitl request to
  a ``hitl broker`` process; an auto-responder answers its notification; the outcome comes back
  on the producer's reply queue and ``HitlGraph.resume`` resumes the thread (the resumer's
  path, in this process).

An interaction is timed from starting its thread to the resumed run's commit, ``--concurrency``
threads at a time; rounds alternate which side goes first. Each line: interactions per second,
p50/p99 in ms, and CPU per interaction (this process; for hitl, plus the broker process's).
``hitl bench`` runs it too (``--langgraph-count``, ``--langgraph-concurrency``,
``--langgraph-runs``; ``--no-langgraph`` leaves it out) and prints ``table``.

    uv run python -m hitl_bench.langgraph_ab --interactions 300 --concurrency 20 --rounds 2
"""

import argparse
import asyncio
import contextlib
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypedDict

import aio_pika
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import StateGraph
from langgraph.pregel import Pregel
from langgraph.types import Command

from hitl.integrations.langgraph import HitlGraph, ask_human
from hitl.sdk import HitlClient
from hitl_bench.hitl_side import HitlRig, new_namespace
from hitl_bench.procs import cpu_seconds
from hitl_bench.report import Table, _spread, _x  # the other tables' ratio cells
from hitl_bench.stats import Quantiles, Spread
from hitl_contract import InteractionOutcome

SERVICE = "bench-langgraph"
ALONE, OVER_HITL = "langgraph alone", "langgraph over hitl"


class Payment(TypedDict, total=False):
    amount: int
    approved: bool


async def approve(payment: Payment) -> Payment:
    outcome = await ask_human("approval", f"Pay {payment['amount']} EUR to ACME Corp?")
    return {"approved": outcome.action == "approve"}


@contextlib.asynccontextmanager
async def open_graph(path: Path) -> AsyncIterator[Pregel[Any, Any, Any, Any]]:
    async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
        graph = StateGraph(Payment).add_node(approve)  # type: ignore[call-overload]  # (mypy and an async node)
        yield graph.set_entry_point("approve").compile(saver)


def instant_answer(thread_id: str) -> dict[str, Any]:
    """The outcome an hitl person would give, as the resume value LangGraph alone gets."""
    now = datetime.now(UTC)
    return InteractionOutcome(
        interaction_id=uuid.uuid4(),
        thread_id=thread_id,
        kind="approval",
        status="resolved",
        action="approve",
        decided_by={"type": "person", "identity": {"id": "bench"}, "channel": "bench"},
        requested_at=now,
        resolved_at=now,
    ).model_dump(mode="json")


@dataclass
class Side:
    name: str
    seconds: list[float]
    wall: float
    cpu: float  # this process
    service_cpu: float = 0.0  # the broker process
    run: int = 0
    concurrency: int = 1

    @property
    def throughput(self) -> float:
        return len(self.seconds) / self.wall

    @property
    def quantiles(self) -> Quantiles:
        return Quantiles.of(self.seconds)

    @property
    def cpu_ms(self) -> float:
        """CPU per interaction, ms: this process and the broker's."""
        return (self.cpu + self.service_cpu) / len(self.seconds) * 1000

    def as_dict(self) -> dict[str, Any]:
        q = self.quantiles
        return {
            "side": self.name, "run": self.run, "concurrency": self.concurrency,
            "count": len(self.seconds), "throughput": self.throughput, "p50_ms": q.p50,
            "p99_ms": q.p99, "cpu_ms": self.cpu / len(self.seconds) * 1000,
            "broker_cpu_ms": self.service_cpu / len(self.seconds) * 1000,
        }  # fmt: skip

    def line(self) -> str:
        n = len(self.seconds)
        q = self.quantiles
        cpu = f"cpu {self.cpu / n * 1000:.2f} ms"
        if self.service_cpu:
            cpu += f" + broker {self.service_cpu / n * 1000:.2f} ms"
        return (
            f"{self.name:<20} {n} interactions  {self.throughput:8.1f}/s  p50 {q.p50:7.2f} ms  "
            f"p99 {q.p99:7.2f} ms  {cpu} per interaction"
        )


async def timed(
    name: str, n: int, concurrency: int, one: Callable[[], Awaitable[float]], pids: list[int]
) -> Side:
    gate = asyncio.Semaphore(concurrency)

    async def gated() -> float:
        async with gate:
            return await one()

    cpu0, service0, t0 = time.process_time(), sum(map(cpu_seconds, pids)), time.perf_counter()
    seconds = await asyncio.gather(*(gated() for _ in range(n)))
    wall = time.perf_counter() - t0
    return Side(
        name,
        list(seconds),
        wall,
        time.process_time() - cpu0,
        sum(map(cpu_seconds, pids)) - service0,
        concurrency=concurrency,
    )


async def langgraph_alone(graph: Pregel[Any, Any, Any, Any]) -> float:
    thread = f"lg-{uuid.uuid4().hex[:12]}"
    config: Any = {"configurable": {"thread_id": thread}}
    t0 = time.perf_counter()
    result = await graph.ainvoke({"amount": 500}, config)
    [pending] = result["__interrupt__"]
    await graph.ainvoke(Command(resume={pending.id: instant_answer(thread)}), config)
    return time.perf_counter() - t0


class OverHitl:
    """The adapter's round trip: published, answered, resumed from the outcome."""

    def __init__(self) -> None:
        self.graph: HitlGraph | None = None
        self._done: dict[str, asyncio.Future[None]] = {}

    async def on_outcome(self, outcome: InteractionOutcome) -> None:
        assert self.graph is not None
        await self.graph.resume(outcome)
        done = self._done.pop(outcome.thread_id, None)
        if done is not None and not done.done():
            done.set_result(None)

    async def one(self) -> float:
        assert self.graph is not None
        thread = f"hitl-{uuid.uuid4().hex[:12]}"
        done = self._done[thread] = asyncio.get_running_loop().create_future()
        t0 = time.perf_counter()
        await self.graph.ainvoke({"amount": 500}, thread_id=thread)
        await asyncio.wait_for(done, 120)
        return time.perf_counter() - t0


async def measure(
    amqp_url: str,
    redis_url: str,
    interactions: int,
    concurrency: int,
    rounds: int,
    *,
    log_dir: Path | None = None,
    broker_env: Mapping[str, str] | None = None,
    say: Callable[[str], None] = print,
) -> list[Side]:
    """Both sides, ``rounds`` times, who goes first alternating; each round's lines to ``say``
    as they come. The broker logs to ``log_dir`` (a temporary directory without it)."""
    measured: list[Side] = []
    with tempfile.TemporaryDirectory(prefix="hitl-bench-langgraph-") as tmp:
        rig = HitlRig(
            amqp_url,
            redis_url,
            new_namespace("bench-lg"),
            log_dir or Path(tmp),
            {"HITL_LOG_LEVEL": "INFO", **(broker_env or {})},
        )
        await rig.start()
        over = OverHitl()
        try:
            async with (
                open_graph(Path(tmp) / "alone.sqlite") as alone,
                open_graph(Path(tmp) / "hitl.sqlite") as graph,
                HitlClient.connect(
                    amqp_url, service=SERVICE, namespace=rig.namespace, on_outcome=over.on_outcome
                ) as client,
            ):
                over.graph = HitlGraph(graph, client, name="bench")
                pids = [b.pid for b in rig.brokers]
                sides = {ALONE: lambda: langgraph_alone(alone), OVER_HITL: over.one}
                await timed("warm-up", concurrency, concurrency, over.one, pids)
                for r in range(rounds):
                    order = list(sides) if r % 2 == 0 else list(reversed(sides))
                    for name in order:
                        pid_list = pids if name == OVER_HITL else []
                        side = await timed(name, interactions, concurrency, sides[name], pid_list)
                        side.run = r
                        measured.append(side)
                        say(f"round {r + 1}: {side.line()}")
        finally:
            await _delete_queue(amqp_url, rig.names.reply_queue(SERVICE))
            await rig.close()
    return measured


def table(sides: Sequence[Side]) -> Table:
    """Per side: interactions/s, p50 / p99 and CPU per interaction, median over runs
    [lowest-highest]; then over hitl/alone per run, and the median."""
    out = Table(
        "LangGraph approval round trip: its own interrupt() and Command(resume=...) on its "
        "SQLite checkpointer (no hitl) against the adapter over hitl (published, answered by a "
        "responder, resumed from the outcome), interleaved: median over runs, [lowest-highest]; "
        "over hitl/alone per run, then the median",
        ("side", "interactions (in flight)", "interactions/s", "latency ms p50 / p99",
         "CPU ms/interaction (process + broker)"),
    )  # fmt: skip
    for name in (ALONE, OVER_HITL):
        group = [s for s in sides if s.name == name]
        if not group:
            continue
        out.rows.append((
            name,
            f"{len(group[0].seconds)} ({group[0].concurrency})",
            Spread.of([s.throughput for s in group]).show("{:.0f}"),
            f"{Spread.of([s.quantiles.p50 for s in group]).show()} / "
            f"{Spread.of([s.quantiles.p99 for s in group]).median:.1f}",
            Spread.of([s.cpu_ms for s in group]).show("{:.2f}"),
        ))  # fmt: skip
    at = {(s.name, s.run): s for s in sides}
    pairs = [(at[OVER_HITL, r], at[ALONE, r]) for n, r in at if n == ALONE and (OVER_HITL, r) in at]
    if pairs:
        out.rows.append((
            "over hitl/alone",
            "",
            _spread([_x(a.throughput, b.throughput) for a, b in pairs], "x{:.2f}"),
            "p50 " + _spread([_x(a.quantiles.p50, b.quantiles.p50) for a, b in pairs], "x{:.2f}"),
            _spread([_x(a.cpu_ms, b.cpu_ms) for a, b in pairs], "x{:.2f}"),
        ))  # fmt: skip
    return out


async def _delete_queue(amqp_url: str, name: str) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection, connection.channel() as channel:
        await channel.queue_delete(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--interactions", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    asyncio.run(  # prints each round's lines (hitl bench prints ``table`` of them)
        measure(args.amqp_url, args.redis_url, args.interactions, args.concurrency, args.rounds)
    )


if __name__ == "__main__":
    main()
