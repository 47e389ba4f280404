"""The store's own Redis connection for script batches, against the real Redis: replies in
order with errors in place, and a connection that broke or stalled is replaced, not reused."""

import asyncio

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from hitl.adapters.redis.line import ScriptLine


async def test_replies_come_back_in_order_with_errors_in_place(
    redis: Redis, namespace: str
) -> None:
    line = ScriptLine(redis, timeout=5)
    key, text = f"{namespace}:n", f"{namespace}:text"
    await redis.set(text, "not a number")
    replies = await line.execute([("INCR", key), ("INCR", text), ("INCRBY", key, 5)])
    assert replies[0] == 1 and replies[2] == 6
    assert isinstance(replies[1], ResponseError) and "not an integer" in str(replies[1])
    assert await line.execute([("GET", key)]) == [b"6"]  # the connection is still in step


async def test_a_killed_connection_fails_one_batch_and_the_next_reconnects(
    redis: Redis, namespace: str
) -> None:
    line = ScriptLine(redis, timeout=5)
    [name] = await line.execute([("CLIENT", "SETNAME", f"{namespace}-line")])
    assert name == b"OK"
    clients = await redis.client_list()
    [ours] = [c for c in clients if c["name"] == f"{namespace}-line"]
    await redis.client_kill_filter(_id=ours["id"])
    with pytest.raises(RedisConnectionError):
        await line.execute([("PING",)])
    assert await line.execute([("PING",)]) == [b"PONG"]


async def test_a_stalled_batch_times_out_and_leaves_no_reply_behind(
    redis: Redis, namespace: str
) -> None:
    line = ScriptLine(redis, timeout=0.2)
    with pytest.raises(TimeoutError):
        await line.execute([("BLPOP", f"{namespace}:empty", 1)])
    await asyncio.sleep(1.0)  # BLPOP's nil reply would arrive now, on a connection now closed
    assert await line.execute([("ECHO", "after")]) == [b"after"]


async def test_batches_from_concurrent_callers_do_not_interleave(
    redis: Redis, namespace: str
) -> None:
    line = ScriptLine(redis, timeout=5)
    key = f"{namespace}:list"
    results = await asyncio.gather(
        *(line.execute([("RPUSH", key, n), ("LLEN", key)]) for n in range(20))
    )
    assert all(pushed == length for pushed, length in results)
