"""A helper process of the bench's own (an event stream reader, a webhook receiver, the
channels' stand-ins), driven over its stdin and stdout one line at a time: commands go in, a
line or a JSON report comes back, and closing its stdin asks it to stop. ``DrivenProcess``
is the bench's side; ``serve_commands`` and ``run`` the helper's."""

import asyncio
import contextlib
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import orjson


class DrivenProcess:
    what = "helper process"  # how errors name it

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @staticmethod
    async def spawn(*args: str) -> asyncio.subprocess.Process:
        """``python <args>`` with this environment, its stdin and stdout piped here."""
        return await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=dict(os.environ),
        )

    async def _line(self, timeout: float) -> str:
        assert self.process.stdout is not None
        raw = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        if not raw:
            raise RuntimeError(f"the {self.what} exited ({self.process.returncode})")
        return raw.decode().strip()

    async def send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command.encode() + b"\n")
        await self.process.stdin.drain()

    async def report(self) -> dict[str, Any]:
        await self.send("report")
        report: dict[str, Any] = orjson.loads(await self._line(timeout=30.0))
        return report

    async def stop(self) -> None:
        if self.process.returncode is None:
            if self.process.stdin is not None:
                self.process.stdin.close()
            try:
                await asyncio.wait_for(self.process.wait(), 10.0)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()


async def serve_commands(server: asyncio.Server, counts: Any) -> None:
    """The helper's side, once ``server`` listens: says ``listening <port>``, obeys the
    commands until stdin closes (``obey``), and closes the server."""
    print(f"listening {server.sockets[0].getsockname()[1]}", flush=True)
    await obey(counts)
    server.close()


async def obey(counts: Any) -> None:
    """``mark`` (``counts.mark()``) and ``report`` (``counts.report()``, one JSON line), one
    command a line on stdin, until it closes."""
    loop = asyncio.get_running_loop()
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)
    while line := await commands.readline():
        command = line.strip()
        if command == b"mark":
            counts.mark()
        elif command == b"report":
            sys.stdout.write(orjson.dumps(counts.report()).decode() + "\n")
            sys.stdout.flush()


def run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """``main()`` on uvloop where it is installed."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
