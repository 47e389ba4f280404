"""A helper process of the bench's own (an event stream reader, a webhook receiver), driven
over its stdin and stdout one line at a time: commands go in, a line or a JSON report comes
back, and closing its stdin asks it to stop."""

import asyncio
import contextlib
import os
import sys
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
