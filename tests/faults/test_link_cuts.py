"""The link between a broker and RabbitMQ, or Redis, cut under load (``TcpProxy``): /readyz
says so during the cut, the consumers are attached again within 5 s of the link returning,
and the history of the load is clean (nothing confirmed lost, never two outcomes, none stuck).

The broker reaches the server through the proxy; the producer and the person do not (they
keep asking and answering during the cut: it all waits in RabbitMQ's queues).
"""

import asyncio
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from redis.asyncio import Redis

from tests.faults.history import History, assert_fault_hit
from tests.faults.load import Load, long_run, workload
from tests.faults.proxy import TcpProxy
from tests.faults.test_broker_processes import (
    LINGER_SECONDS,
    Brokers,
    counter_total,
    free_ports,
)
from tests.faults.test_redis_data_loss import http_get
from tests.servers import AMQP_URL, REDIS_URL

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Cut:
    load: Load
    cut_after: float  # seconds into the load
    cut_for: float  # seconds the link is down


CUT_SHORT = Cut(Load(interactions=300, in_flight=64, spread=8.0), cut_after=2.0, cut_for=4.0)
CUT_LONG = Cut(Load(interactions=2000, in_flight=256, spread=30.0), cut_after=5.0, cut_for=15.0)
REATTACH_WITHIN = 5.0  # seconds from the link's return to /readyz 200 (consumers attached)
NOTICED_WITHIN = 5.0  # seconds from the cut to /readyz 503


@dataclass
class Probe:
    """/readyz every 100 ms: (when, status, body)."""

    port: int
    readings: list[tuple[float, int, str]] = field(default_factory=list)

    async def run(self) -> None:
        while True:
            try:
                status, body = await http_get(self.port, "/readyz")
            except OSError as exc:
                status, body = 0, repr(exc)
            self.readings.append((time.monotonic(), status, body))
            await asyncio.sleep(0.1)

    def first(self, status: int, after: float) -> float | None:
        """Seconds from ``after`` to the first reading with ``status`` (None: never)."""
        found = [at for at, st, _ in self.readings if st == status and at >= after]
        return found[0] - after if found else None

    def between(self, start: float, end: float) -> list[tuple[float, int, str]]:
        return [r for r in self.readings if start <= r[0] < end]


def through_proxy(url: str, default_port: int) -> tuple[str, int, str]:
    """The server ``url`` names (host, port), and ``url`` with ``{port}`` where the proxy's
    port goes."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    netloc = parts.netloc.rpartition("@")[0]
    netloc = f"{netloc}@127.0.0.1:{{port}}" if netloc else "127.0.0.1:{port}"
    return host, port, parts._replace(netloc=netloc).geturl()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("server", ["rabbitmq", "redis"])
async def test_a_link_cut_under_load_is_seen_by_readyz_and_healed_within_5s(
    brokers: Brokers,
    namespace: str,
    redis: Redis,
    server: str,
    request: pytest.FixtureRequest,
) -> None:
    scale = CUT_LONG if long_run(request.config) else CUT_SHORT
    history = History()
    url = AMQP_URL if server == "rabbitmq" else REDIS_URL
    host, port, template = through_proxy(url, 5672 if server == "rabbitmq" else 6379)
    metrics_port = free_ports(1)[0]
    async with TcpProxy(host, port) as proxy:
        through = template.format(port=proxy.port)
        variable = "HITL_AMQP_URL" if server == "rabbitmq" else "HITL_REDIS_URL"
        broker = await brokers.start(HITL_METRICS_PORT=str(metrics_port), **{variable: through})
        probe = Probe(metrics_port)
        probing = asyncio.create_task(probe.run())
        try:
            async with workload(history, namespace, AMQP_URL, scale.load) as work:
                producing = asyncio.create_task(work.run())
                await asyncio.sleep(scale.cut_after)
                accepted = proxy.accepted
                cut_at = time.monotonic()
                await proxy.cut()
                await asyncio.sleep(scale.cut_for)
                during = history.outcomes_between(cut_at + 1.0, time.monotonic())
                restored_at = time.monotonic()
                await proxy.restore()
                await producing
                await work.settled(timeout=120)
                await asyncio.sleep(LINGER_SECONDS)
                pending = await work.pending_in(redis, namespace)
        finally:
            probing.cancel()
        metrics = await brokers.metrics(broker)

    verdict = history.check(pending)
    noticed = probe.first(503, cut_at)
    healed = probe.first(200, restored_at)
    cut_readings = probe.between(cut_at + (noticed or 0), restored_at)
    last_down = [body for _, st, body in probe.between(restored_at, restored_at + 60) if st != 200]
    reconnects = proxy.accepted - accepted
    retried = counter_total(metrics, "hitl_handler_failures_total")
    print(
        f"\n{server} link cut {scale.cut_for:.0f}s under {scale.load.interactions} interactions "
        f"({scale.load.in_flight} in flight): {verdict.summary()}; /readyz 503 "
        f"{noticed:.2f}s after the cut, 200 again {healed:.2f}s after the link returned; "
        f"{reconnects} connections through the proxy after the cut; outcomes during the cut "
        f"{during}; handler failures {retried:.0f}"
    )
    assert noticed is not None and noticed <= NOTICED_WITHIN, probe.readings[-5:]
    assert cut_readings and all(st == 503 for _, st, _ in cut_readings), [
        (round(at - cut_at, 2), st, body) for at, st, body in cut_readings if st != 503
    ][:3]
    assert healed is not None and healed <= REATTACH_WITHIN, last_down[-1:]
    assert probe.readings[-1][1] == 200, probe.readings[-1]
    verdict.assert_clean()
    assert verdict.statuses == {"resolved": scale.load.interactions}
    assert_fault_hit(reconnects=reconnects)
    assert broker.process.returncode is None, broker.log[-3000:]
