"""The LangGraph adapter (hitl.integrations.langgraph) end to end: examples/langgraph_approval.py
on LangGraph's AsyncSqliteSaver, a real ``hitl broker`` process, answers given with
``hitl resume`` as a person would, and the resumer in a process of its own.

- a waiting run: the node awaits each answer and the graph finishes with them;
- a stopped run: the graph process exits after asking, the answer comes, a resumer started
  afterwards resumes the right thread, asks the next question, and the graph completes;
- an outcome applied twice (a redelivery after a crash) resumes the thread once;
- an outcome whose thread is gone from the checkpointer is parked and counted, not dropped.
"""

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from examples import langgraph_approval as example  # the repository is on pytest's path

from hitl.integrations.langgraph import HitlGraph, Result, Resumer, parked_queue
from hitl.sdk import HitlClient
from hitl.settings import Settings
from hitl_contract.wire import Names
from tests.helpers import lifecycle_events
from tests.servers import AMQP_URL, REDIS_URL, ROOT, child_env, delete_namespace

pytestmark = pytest.mark.slow


def env_of(namespace: str, db: Path) -> dict[str, str]:
    return child_env(
        namespace,
        HITL_POLL_INTERVAL_SECONDS="0.05",
        HITL_STARTUP_ATTEMPTS="5",
        HITL_LOG_LEVEL="INFO",
        DRAFTS_DB=str(db),
    )


@pytest.fixture
async def ns() -> AsyncIterator[str]:
    from uuid import uuid4

    name = f"test-{uuid4().hex[:12]}"
    yield name
    await delete_namespace(name, extra_queues=("drafts", "drafts-waiting"))
    connection = await aio_pika.connect(AMQP_URL)
    async with connection, connection.channel() as channel:
        await channel.queue_delete(parked_queue(Names(name), "drafts"))


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "drafts.sqlite"
    monkeypatch.setenv("DRAFTS_DB", str(path))
    return path


class Process:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self.seen = asyncio.Event()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stderr is not None
        async for line in self.process.stderr:
            self.lines.append(line.decode(errors="replace"))
            self.seen.set()

    async def until_logged(self, text: str, timeout: float = 60.0) -> None:
        async def wait() -> None:
            while not any(text in line for line in self.lines):
                if self.process.returncode is not None:
                    raise AssertionError(f"exited {self.process.returncode}:\n{self.log}")
                self.seen.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.seen.wait(), 0.5)

        try:
            await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            pytest.fail(f"{text!r} not logged within {timeout}s:\n{self.log}")

    @property
    def log(self) -> str:
        return "".join(self.lines)

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 15)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        await self.reader


@contextlib.asynccontextmanager
async def started(env: dict[str, str], *args: str, ready: str) -> AsyncIterator[Process]:
    process = Process(
        await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            env=env,
            cwd=ROOT,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
    )
    try:
        await process.until_logged(ready)
        yield process
    finally:
        await process.stop()


@pytest.fixture
async def broker(ns: str, db: Path) -> AsyncIterator[Process]:
    async with started(env_of(ns, db), "-m", "hitl.cli.main", "broker", ready="broker ready") as p:
        yield p


async def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, *args, env=env, cwd=ROOT,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def answer(env: dict[str, str], thread: str, *how: str, timeout: float = 60.0) -> str:
    """``hitl resume THREAD ACTION ...`` as a person would, once the question is pending."""
    out = ""
    try:
        async with asyncio.timeout(timeout):
            while True:
                code, out = await run(env, "-m", "hitl.cli.main", "resume", thread, *how)
                if code == 0:
                    return out
                await asyncio.sleep(0.2)
    except TimeoutError:
        pytest.fail(f"hitl resume {thread} {' '.join(how)} never worked; last said: {out}")


async def state_of(thread: str) -> tuple[dict[str, Any], int]:
    """The thread's values in the checkpointer, and how many checkpoints it has."""
    async with example.open_graph() as graph:
        config: Any = {"configurable": {"thread_id": thread}}
        snapshot = await graph.aget_state(config)
        count = len([c async for c in graph.aget_state_history(config)])
        return dict(snapshot.values), count


async def eventually_state(thread: str, key: str, timeout: float = 60.0) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            values, _ = await state_of(thread)
            if key in values:
                return values
            await asyncio.sleep(0.2)


async def test_a_waiting_node_gets_the_answers_and_the_graph_finishes(
    ns: str, db: Path, broker: Process
) -> None:
    env = env_of(ns, db)
    graph = asyncio.create_task(run(env, "examples/langgraph_approval.py", "wait", "w-1", "hitl"))
    assert "accepted" in await answer(env, "w-1", "approve")
    assert "accepted" in await answer(env, "w-1", "choose", "--data", '{"choice": 2}')
    code, out = await graph
    assert code == 0, out
    result = json.loads(out.strip().splitlines()[-1])
    assert result["approved"] is True
    assert result["channel"] == "newsletter"
    assert result["note"] == "published to newsletter"
    assert result["waiting_on"] == []


async def test_a_stopped_graph_is_resumed_by_the_resumer_in_another_process(
    ns: str, db: Path, broker: Process
) -> None:
    env = env_of(ns, db)
    code, out = await run(env, "examples/langgraph_approval.py", "ask", "s-1", "hitl")
    assert code == 0, out
    asked = json.loads(out.strip().splitlines()[-1])
    assert asked["waiting_on"] == [f"Publish this post?\n\n{asked['draft']}"]
    # The graph's process is gone; the answer comes, then a resumer starts.
    assert "accepted" in await answer(env, "s-1", "approve", "--data", '{"reason": "fine"}')
    resumer = (
        "-m", "hitl.integrations.langgraph.resumer", "--graph",
        "examples.langgraph_approval:open_graph", "--service", "drafts", "--name", "drafts",
    )  # fmt: skip
    async with started(env, *resumer, ready="resuming graph") as process:
        # The resumed run asks the next question through hitl.
        assert "accepted" in await answer(env, "s-1", "choose", "--data", '{"choice": 3}')
        values = await eventually_state("s-1", "channel")
        await process.until_logged("resumed thread 's-1'")
    assert values["approved"] is True
    assert values["note"] == "published to both"
    assert sum("resumed thread 's-1'" in line for line in process.lines) == 2


async def test_an_outcome_applied_twice_resumes_the_thread_once(
    ns: str, db: Path, broker: Process
) -> None:
    env = env_of(ns, db)
    async with (
        example.open_graph() as graph,
        HitlClient.connect(AMQP_URL, service="drafts", namespace=ns) as hitl,
    ):
        drafts = HitlGraph(graph, hitl, name="drafts")
        await drafts.ainvoke({"topic": "hitl"}, thread_id="d-1")
        [asked] = await drafts.publish_pending("d-1")  # again: the same question, same id
        await answer(env, "d-1", "approve")
        outcome = await hitl.wait(asked, timeout=30)
        first = await drafts.resume(outcome)
        _, checkpoints = await state_of("d-1")
        again = await drafts.resume(outcome)  # redelivered after a crash before the ack
        values, checkpoints_after = await state_of("d-1")
    assert first.result is Result.RESUMED
    assert again.result is Result.DUPLICATE
    assert checkpoints_after == checkpoints
    assert values["approved"] is True
    assert "channel" not in values
    # The next question was published by the first resume; the duplicate republished the same.
    assert len(first.published) == 1
    assert again.published == first.published


async def parked(namespace: str, timeout: float = 60.0) -> aio_pika.abc.AbstractIncomingMessage:
    connection = await aio_pika.connect(AMQP_URL)
    async with connection, connection.channel() as channel:
        async with asyncio.timeout(timeout):
            while True:
                queue = await channel.get_queue(parked_queue(Names(namespace), "drafts"))
                message = await queue.get(fail=False, no_ack=True)
                if message is not None:
                    return message
                await asyncio.sleep(0.2)


def counted(resumer: Resumer, result: str, code: str = "") -> float:
    value = resumer.registry.get_sample_value(
        "hitl_langgraph_outcomes_total", {"graph": "drafts", "result": result, "code": code}
    )
    return value or 0.0


@contextlib.asynccontextmanager
async def resumer_of(ns: str) -> AsyncIterator[Resumer]:
    settings = Settings(
        amqp_url=AMQP_URL, redis_url=REDIS_URL, namespace=ns, metrics_port=0, startup_attempts=3
    )
    resumer = Resumer(settings, example.open_graph, name="drafts", service="drafts")
    await resumer.start()
    try:
        yield resumer
    finally:
        await resumer.stop()


async def test_an_outcome_for_a_thread_gone_from_the_checkpointer_is_parked_and_reported(
    ns: str, db: Path, broker: Process, caplog: pytest.LogCaptureFixture, capture: Any
) -> None:
    env = env_of(ns, db)
    code, out = await run(env, "examples/langgraph_approval.py", "ask", "g-1", "hitl")
    assert code == 0, out
    async with example.open_graph() as graph:
        assert graph.checkpointer is not None
        await graph.checkpointer.adelete_thread("g-1")  # type: ignore[union-attr]
    await answer(env, "g-1", "approve")
    async with capture(Names(ns).events, "rejected.#") as events, resumer_of(ns) as resumer:
        message = await parked(ns)
        assert counted(resumer, "parked", "unknown_thread") == 1
        [reported] = lifecycle_events(await events.wait_for(lambda m: len(m) == 1, 30))
    assert reported.event == "rejected"
    assert reported.source == "resume"
    assert reported.event_id == f"rejected:resume:{message.message_id}"
    assert reported.thread_id == "g-1"
    assert reported.error is not None
    assert reported.error.code == "not_resumable"
    assert "thread 'g-1' is not in the checkpointer" in reported.error.message
    assert reported.outcome is not None
    assert reported.outcome.action == "approve"
    assert message.headers["x-hitl-parked-code"] == "unknown_thread"
    assert "thread 'g-1' is not in the checkpointer" in str(message.headers["x-hitl-parked-reason"])
    body = json.loads(message.body)
    assert body["thread_id"] == "g-1"
    assert body["resume_state"]["langgraph"]["thread_id"] == "g-1"
    assert "parking the outcome" in caplog.text
    values, _ = await state_of("g-1")
    assert values == {}  # nothing was applied anywhere
