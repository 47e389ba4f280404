"""A webhook receiver for the benchmarks, in a process of its own (``python -m
hitl_bench.webhook_receiver``), so serving does not share the sender's event loop or core
time: an asyncio HTTP/1.1 server on loopback that reads each POST whole (``content-length``)
and answers ``204 No Content`` on the kept-alive connection, or with ``--hang`` never answers
(a receiver that hangs until the sender gives up).

It prints ``listening <port>`` once it listens, then obeys one command per line on stdin:
``mark`` (forget what came so far) and ``report`` (one JSON line: requests received since the
mark, connections opened, its CPU seconds so far and, with ``--record``, the
``time.perf_counter()`` at which each request had arrived whole, by its ``webhook-id``: on
Linux one clock for every process, so the sender's process can subtract its own stamps).
It exits when stdin closes.
"""

import argparse
import asyncio
import time
from typing import Any, cast

from hitl_bench.driven import DrivenProcess, run, serve_commands

_ANSWER = b"HTTP/1.1 204 No Content\r\n\r\n"


class Counts:
    def __init__(self, record: bool) -> None:
        self.requests = 0
        self.connections = 0
        self.arrivals: dict[str, float] | None = {} if record else None

    def mark(self) -> None:
        self.requests = 0
        self.connections = 0
        if self.arrivals is not None:
            self.arrivals = {}

    def report(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "connections": self.connections,
            "cpu_seconds": time.process_time(),
            "arrivals": self.arrivals or {},
        }


class Http(asyncio.Protocol):
    """One connection: requests parsed from the bytes as they come, answered in order."""

    def __init__(self, counts: Counts, hang: bool) -> None:
        self.counts = counts
        self.hang = hang
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.counts.connections += 1

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            length, webhook_id = _head(self.buffer[:end])
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            self.counts.requests += 1
            if self.counts.arrivals is not None and webhook_id:
                self.counts.arrivals[webhook_id] = time.perf_counter()
            if not self.hang:
                assert self.transport is not None
                self.transport.write(_ANSWER)


def _head(head: bytes) -> tuple[int, str]:
    length, webhook_id = 0, ""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"webhook-id":
            webhook_id = value.strip().decode()
    return length, webhook_id


async def _serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    counts = Counts(args.record)
    server = await loop.create_server(
        lambda: Http(counts, args.hang), args.host, args.port, backlog=1024
    )
    await serve_commands(server, counts)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m hitl_bench.webhook_receiver", description=__doc__
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: one the system picks")
    parser.add_argument("--hang", action="store_true", help="never answer")
    parser.add_argument("--record", action="store_true", help="report each arrival's time")
    args = parser.parse_args()
    run(lambda: _serve(args))


class ReceiverProcess(DrivenProcess):
    """The receiver process, driven over its stdin and stdout from the sender's process."""

    what = "webhook receiver"

    def __init__(self, process: asyncio.subprocess.Process, port: int, host: str) -> None:
        super().__init__(process)
        self.port = port
        self.host = host

    @property
    def pid(self) -> int:
        return self.process.pid

    def url(self, path: str = "/hook") -> str:
        return f"http://{self.host}:{self.port}{path}"

    @classmethod
    async def start(
        cls, *, hang: bool = False, record: bool = False, host: str = "127.0.0.1"
    ) -> "ReceiverProcess":
        args = ["-m", "hitl_bench.webhook_receiver", "--host", host]
        args += (["--hang"] if hang else []) + (["--record"] if record else [])
        process = await cls.spawn(*args)
        receiver = cls(process, 0, host)
        line = await receiver._line(timeout=30.0)
        if not line.startswith("listening "):
            await receiver.stop()
            raise RuntimeError(f"the webhook receiver said {line!r}")
        receiver.port = int(line.split()[1])
        return receiver

    async def mark(self) -> None:
        await self.send("mark")


if __name__ == "__main__":
    main()
