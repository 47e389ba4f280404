"""The hand-made RESP packer writes what redis-py's packer writes, and refuses what it refuses."""

import pytest
from redis.asyncio.connection import Connection

from hitl.adapters.redis.resp import pack, pack_all

COMMANDS = [
    ("EVALSHA", "a" * 40, 2, "{ns:s1}:ix:1", "{ns:s1}:due", b'{"json":"\xc3\xa9"}', 3600, 0.25),
    ("SET", "ünïcode ✓", b"", -7, 1e-7, 1764000000.123456),
    ("PING",),
]


@pytest.mark.parametrize("command", COMMANDS)
def test_a_command_packs_as_redis_py_packs_it(command: tuple[object, ...]) -> None:
    assert pack(command) == b"".join(Connection().pack_command(*command))  # type: ignore[arg-type]


def test_commands_pack_back_to_back() -> None:
    assert pack_all(COMMANDS) == b"".join(map(pack, COMMANDS))  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [None, True, ["a list"]])
def test_an_argument_of_another_type_is_refused(bad: object) -> None:
    with pytest.raises(TypeError, match="bytes, str, int or float"):
        pack(("SET", "k", bad))  # type: ignore[arg-type]
