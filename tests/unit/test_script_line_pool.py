"""The store's script line on redis-py's own pool, with canned replies instead of a server:
it takes its connection with ``get_connection()`` (no command name: redis-py 5.3 and later),
keeps it for the next batch, writes each batch at once and gives each command its reply, errors
in place."""

from collections.abc import Iterable
from typing import Any

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import Connection
from redis.exceptions import ResponseError

from hitl.adapters.redis.line import ScriptLine


class Canned(Connection):
    """Answers from ``replies`` (a ResponseError is raised as the server's error reply)."""

    replies: list[Any] = []
    writes: list[bytes] = []
    made: int = 0

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        Canned.made += 1

    async def connect(self) -> None:
        pass

    async def can_read(self, timeout: float = 0) -> bool:  # redis-py 8 asks before lending
        return False

    async def can_read_destructive(self) -> bool:  # redis-py 5 to 7 ask this instead
        return False

    async def send_packed_command(
        self, command: Iterable[bytes] | bytes, check_health: bool = True
    ) -> None:
        Canned.writes.append(command if isinstance(command, bytes) else b"".join(command))

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        reply = Canned.replies.pop(0)
        if isinstance(reply, ResponseError):
            raise reply
        return reply

    async def disconnect(self, nowait: bool = False, **kwargs: Any) -> None:
        pass


async def test_script_line_on_the_pool_replies_in_order_with_errors_in_place() -> None:
    Canned.made, Canned.writes = 0, []
    redis = Redis(connection_pool=ConnectionPool(connection_class=Canned))
    line = ScriptLine(redis, timeout=1)
    error = ResponseError("WRONGTYPE not a number")
    Canned.replies = [1, error, 6]
    replies = await line.execute([("INCR", "n"), ("INCR", "text"), ("INCRBY", "n", 5)])
    assert replies == [1, error, 6]
    [write] = Canned.writes  # the three commands in one write
    assert write.count(b"*") == 3 and b"INCRBY" in write
    Canned.replies = [b"6"]
    assert await line.execute([("GET", "n")]) == [b"6"]
    assert len(Canned.writes) == 2
    assert Canned.made == 1  # one connection, kept for every batch
    await redis.aclose()
