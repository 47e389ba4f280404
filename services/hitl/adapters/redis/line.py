"""A connection of the store's own for its script batches.

The store sends one batch of scripts at a time (group commit), so one connection is all those
batches need. Holding it spares each batch the pool's checkout and release (a lock and a
condition each) and a redis-py ``Pipeline`` object: a batch is one write and its reads.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ResponseError

from hitl.adapters.redis.resp import Arg, pack_all

# Run on each connection the line opens, before its first batch (store integrity's greeting).
Handshake = Callable[[AbstractConnection], Awaitable[None]]


class ScriptLine:
    """``execute`` sends commands in one write and returns their replies in order; an error
    reply takes its command's place (as in a pipeline with ``raise_on_error=False``). A batch
    that fails as a whole (connection lost, ``timeout`` passed, cancelled) drops the
    connection, whose replies can no longer be matched; the next batch connects again.
    ``handshake`` runs on every connection before its first batch (and again after one was
    dropped): a batch never reaches a Redis process the handshake has not seen.

    The connection is taken from ``redis``'s pool on first use, or is ``connection`` (a Redis
    Cluster node's, ``adapters/redis/lines.py``). A dropped one connects again to where it
    points: a Sentinel pool's asks the Sentinels for the primary first."""

    def __init__(
        self,
        redis: "Redis | None",
        *,
        timeout: float,
        handshake: Handshake | None = None,
        connection: AbstractConnection | None = None,
    ) -> None:
        self._pool = redis.connection_pool if redis is not None else None
        self._timeout = timeout
        self._handshake = handshake
        self._connection = connection
        self._greeted = False
        self._lock = asyncio.Lock()  # one batch at a time, even if a caller forgets

    async def execute(self, commands: Sequence[Sequence[Arg]]) -> list[Any]:
        async with self._lock:
            if self._connection is None:
                assert self._pool is not None
                # Taken from the pool for good: closing the client closes it with the rest.
                self._connection = await self._pool.get_connection()  # type: ignore[no-untyped-call]
            connection = self._connection
            try:
                async with asyncio.timeout(self._timeout):
                    if self._handshake is not None and not (
                        self._greeted and connection.is_connected
                    ):
                        await connection.connect()  # a no-op when connected
                        await self._handshake(connection)
                        self._greeted = True
                    await connection.send_packed_command(pack_all(commands), check_health=False)
                    return [await _reply(connection) for _ in commands]
            except BaseException:
                self._greeted = False
                await connection.disconnect(nowait=True)
                raise


async def _reply(connection: AbstractConnection) -> Any:
    try:
        return await connection.read_response()
    except ResponseError as exc:  # this command's error; the connection is fine
        return exc
