"""The real RabbitMQ and Redis the tests talk to, and what a test namespace creates there.

Every test gets its own namespace (exchange, queue and key prefix), so tests can run repeatedly
and in parallel; ``delete_namespace`` removes everything a namespace created.
"""

import os
from pathlib import Path

import aio_pika
from redis.asyncio import Redis

from hitl.adapters.amqp.teardown import delete_topology
from hitl.adapters.redis.purge import purge_namespace
from hitl.settings import Settings
from hitl_contract.wire import Names

AMQP_URL = os.environ.get("HITL_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
REDIS_URL = os.environ.get("HITL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ROOT = Path(__file__).resolve().parents[1]


def child_env(namespace: str, **settings: str) -> dict[str, str]:
    """The environment of a process a test starts: this one's without its HITL_ settings, with
    the test servers, ``namespace``, no metrics port and the checkout first on PYTHONPATH; then
    ``settings`` (HITL_ names or any other) on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HITL_")}
    env.update(
        HITL_AMQP_URL=AMQP_URL,
        HITL_REDIS_URL=REDIS_URL,
        HITL_NAMESPACE=namespace,
        HITL_METRICS_PORT="0",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    env.update(settings)
    return env


def test_settings(namespace: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "amqp_url": AMQP_URL,
        "redis_url": REDIS_URL,
        "namespace": namespace,
        "poll_interval_seconds": 0.05,
        "metrics_port": 0,
        "shutdown_grace_seconds": 5,
        "startup_attempts": 3,
        "outbox_lease_seconds": 1.0,
        "claim_lease_seconds": 2.0,
        "early_answer_hold_seconds": 0.5,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


test_settings.__test__ = False  # type: ignore[attr-defined]  # a factory, not a test


REPLY_SERVICES = (
    "producer",
    "hitl-demo",
    "raw-producer",
    "restarted",
    "bench",
    "billing",
    "cut-connection",
    "http",  # the gateway's, for requests created over HTTP
)


async def delete_namespace(namespace: str, extra_queues: tuple[str, ...] = ()) -> None:
    connection = await aio_pika.connect(AMQP_URL)
    try:
        await delete_topology(connection, Names(namespace), reply_to=extra_queues)
    finally:
        await connection.close()
    client: Redis = Redis.from_url(REDIS_URL)
    try:
        await purge_namespace(client, namespace)
    finally:
        await client.aclose()
