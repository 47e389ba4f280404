"""hitl under test: ``hitl broker`` process(es), the real SDK (``HitlClient.ask``) for the
producers, and an auto-responder on the notifications exchange answering through the responses
exchange."""

import contextlib
import os
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hitl.adapters.amqp.teardown import delete_topology
from hitl.adapters.redis.connection import open_redis
from hitl.adapters.redis.purge import purge_namespace
from hitl.core.tracecontext import TraceContext
from hitl.runtime.startup import connect_amqp
from hitl.sdk import HitlClient
from hitl_bench.procs import Child, start_child
from hitl_bench.scenario import AutoResponder, answer_notification
from hitl_contract import InteractionRequest
from hitl_contract.wire import Names

SERVICE = "bench"
NOTIFIER = "bench-notifier"
QUORUM = {"x-queue-type": "quorum"}
TRACED = "traced"  # the system name of a rig whose requests carry trace context (``trace``)


def new_namespace(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class HitlRig:
    """A broker (or two) on a namespace of its own, a producer client and a responder."""

    amqp_url: str
    redis_url: str
    namespace: str
    log_dir: Path
    broker_env: Mapping[str, str] = field(default_factory=dict)
    name: str = "hitl"
    # Source folders put first on the broker's PYTHONPATH: a broker built from another tree
    # (``--baseline-tree``); empty: the hitl this process imports.
    pythonpath: Sequence[str] = ()
    # More fields of each request (labels, node name) by its number; with it, several
    # receivers may be notified per request (a routing file), and only the first is answered.
    request_fields: Callable[[int], Mapping[str, Any]] | None = None
    # Each request carries a W3C traceparent of its own (a trace per ask), as a producer that
    # traces would send it; the broker passes it on to the notification, events and outcome.
    trace: bool = False
    # The n-th broker's HITL_AMQP_URL (n from 1), when not ``amqp_url``: the nodes of a
    # cluster in another order for each, so they connect to different nodes.
    broker_amqp_url: Callable[[int], str] | None = None
    brokers: list[Child] = field(default_factory=list)
    _stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)
    _client: HitlClient | None = None
    _responder: AutoResponder | None = None
    _started: int = 0

    @property
    def names(self) -> Names:
        return Names(self.namespace)

    @property
    def responder(self) -> AutoResponder:
        assert self._responder is not None
        return self._responder

    def env(self) -> dict[str, str]:
        env = dict(os.environ)  # the caller's HITL_* settings apply, but for these
        env.update(
            {
                "HITL_AMQP_URL": self.amqp_url,
                "HITL_REDIS_URL": self.redis_url,
                "HITL_NAMESPACE": self.namespace,
                "HITL_METRICS_PORT": "0",
            }
        )
        env.update(self.broker_env)
        if self.pythonpath:
            env["PYTHONPATH"] = os.pathsep.join(
                [*self.pythonpath, *filter(None, [env.get("PYTHONPATH")])]
            )
        return env

    async def add_broker(self) -> Child:
        self._started += 1
        env = self.env()
        if self.broker_amqp_url is not None:
            env["HITL_AMQP_URL"] = self.broker_amqp_url(self._started)
        child = await start_child(
            f"{self.namespace}-broker{self._started}",
            ["hitl.cli.main", "broker"],
            env,
            self.log_dir,
            ready="broker ready",
        )
        self.brokers.append(child)
        return child

    async def remove_broker(self) -> None:
        await self.brokers.pop().stop()

    async def restart_brokers(self) -> None:
        count = len(self.brokers)
        while self.brokers:
            await self.remove_broker()
        for _ in range(count):
            await self.add_broker()

    async def start(self) -> None:
        await self.add_broker()
        self._client = await self._stack.enter_async_context(
            HitlClient.connect(self.amqp_url, service=SERVICE, namespace=self.namespace)
        )
        connection = await connect_amqp(self.amqp_url, 5, name="hitl-bench-responder")
        self._stack.push_async_callback(connection.close)
        channel = await connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=1000)
        responses = await channel.get_exchange(self.names.responses, ensure=False)
        self._responder = AutoResponder(
            responses, answer_notification, "hitl.response", once=self.request_fields is not None
        )
        queue = await channel.declare_queue(
            f"{self.namespace}.{NOTIFIER}", durable=True, arguments=QUORUM
        )
        await queue.bind(self.names.notifications, "#")
        await queue.consume(self._responder.on_notification)

    async def ask_one(self, seq: int) -> tuple[str, float, float]:
        assert self._client is not None
        request: InteractionRequest = self._client.new_request(
            "approval",
            thread_id=f"bench-{uuid.uuid4().hex[:12]}",
            prompt="Pay 500 EUR to ACME Corp for invoice INV-2041?",
            context={"amount": 500, "currency": "EUR", "invoice": "INV-2041"},
            timeout_seconds=3600,
            on_timeout={"action": "reject", "data": {"reason": "no answer within the hour"}},
            resume_state={"step": "pay", "seq": seq},
            **(self.request_fields(seq) if self.request_fields is not None else {}),
        )
        trace = (
            TraceContext(f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01")
            if self.trace
            else None
        )
        t0 = time.perf_counter()
        await self._client.ask(request, timeout=120, trace=trace)
        return str(request.id), t0, time.perf_counter()

    def cpu_groups(self) -> Mapping[str, Sequence[int]]:
        return {"service": [b.pid for b in self.brokers], "bench": [os.getpid()]}

    async def close(self, *, cleanup: bool = True) -> None:
        await self._stack.aclose()
        while self.brokers:
            await self.remove_broker()
        if cleanup:
            await self.delete()

    async def delete(self) -> None:
        connection = await connect_amqp(self.amqp_url, 5, name="hitl-bench teardown")
        try:
            await delete_topology(
                connection,
                self.names,
                reply_to=[SERVICE],
                queues=[f"{self.namespace}.{NOTIFIER}"],
            )
        finally:
            await connection.close()
        redis = open_redis(self.redis_url)  # one node or a Cluster, as the broker's
        try:
            await purge_namespace(redis, self.namespace)
        finally:
            await redis.aclose()
