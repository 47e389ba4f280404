"""Server-sent-event fan-out: N open ``GET /v1/events`` streams on one gateway, read by a
process of their own (``python -m hitl_bench.sse``), so parsing N copies of every event does
not take the bench process's CPU from the producers and the responder.

The reader process opens the streams, prints ``open <n>``, then obeys one command per line on
stdin: ``mark`` (forget what came so far: the measured window starts) and ``report`` (print
what came since the mark as one JSON line). For each event it records the lag: the time it
was read less the event's ``at``, the moment the broker made the transition (both are this
machine's wall clock). That includes the broker's batching of events (they trail the
confirmed notification or outcome, gathered for up to 50 ms), RabbitMQ's hop to the
gateway's event queue, the gateway's fan-out and the stream's HTTP write.
"""

import argparse
import asyncio
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import orjson

from hitl_bench.driven import DrivenProcess, obey
from hitl_bench.http import HttpClient, open_stream
from hitl_bench.procs import cpu_seconds
from hitl_bench.scenario import Rig, Sample, drive
from hitl_bench.stats import Quantiles, percentile

NOTICES = (b"reset", b"dropped")


@dataclass
class _Window:
    counts: list[int]
    lags: list[float] = field(default_factory=list)
    notices: dict[str, int] = field(default_factory=dict)
    first: float = math.nan
    last: float = math.nan
    ended: int = 0


class Reader:
    """Reads ``streams`` event streams and counts what each one gets."""

    def __init__(self, url: str, key: str, streams: int, path: str) -> None:
        self.client = HttpClient(url, {"authorization": f"Bearer {key}"})
        self.path = path
        self.streams = streams
        self.window = _Window([0] * streams)
        self.connected = 0
        self.all_open = asyncio.Event()

    def mark(self) -> None:
        self.window = _Window([0] * self.streams)

    def report(self) -> dict[str, Any]:
        w = self.window
        return {
            "events": sum(w.counts),
            "least": min(w.counts),
            "most": max(w.counts),
            "first": w.first,
            "last": w.last,
            "lag_ms": [1000.0 * percentile(w.lags, q) for q in (50, 95, 99)],
            "notices": w.notices,
            "ended": w.ended,
            "cpu_seconds": time.process_time(),
        }

    async def read(self, index: int) -> None:
        pending = b""
        opened = False
        async for chunk in open_stream(self.client, self.path):
            if not opened:
                opened = True
                self._opened()
            now = time.time()
            pending += chunk.replace(b"\r\n", b"\n")
            *frames, pending = pending.split(b"\n\n")
            for frame in frames:
                self._frame(index, frame, now)
        self.window.ended += 1

    def _opened(self) -> None:
        self.connected += 1
        if self.connected == self.streams:
            self.all_open.set()

    def _frame(self, index: int, frame: bytes, now: float) -> None:
        name, data = b"", b""
        for line in frame.split(b"\n"):
            if line.startswith(b"event: "):
                name = line[7:]
            elif line.startswith(b"data: "):
                data = line[6:]
        if not data:
            return  # a keep-alive comment
        w = self.window
        if name in NOTICES:
            key = name.decode()
            w.notices[key] = w.notices.get(key, 0) + 1
            return
        at = datetime.fromisoformat(orjson.loads(data)["at"]).timestamp()
        w.counts[index] += 1
        w.lags.append(now - at)
        if math.isnan(w.first):
            w.first = now
        w.last = now


async def _serve(args: argparse.Namespace) -> None:
    reader = Reader(args.url, args.key, args.streams, args.path)
    tasks = [asyncio.create_task(reader.read(i)) for i in range(args.streams)]
    await _wait_open(reader, tasks)
    print(f"open {args.streams}", flush=True)
    await obey(reader)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _wait_open(reader: Reader, tasks: Sequence["asyncio.Task[None]"]) -> None:
    opened = asyncio.create_task(reader.all_open.wait())
    done, _ = await asyncio.wait([opened, *tasks], return_when=asyncio.FIRST_COMPLETED)
    if opened not in done:
        opened.cancel()
        for task in done:
            task.result()  # raises what ended the stream
        raise RuntimeError("an event stream ended before all were open")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m hitl_bench.sse", description=__doc__)
    parser.add_argument("--url", required=True, help="the gateway, e.g. http://127.0.0.1:8080")
    parser.add_argument("--key", required=True, help="an API key with the read scope")
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--path", default="/v1/events")
    asyncio.run(_serve(parser.parse_args()))


@dataclass(frozen=True, slots=True)
class FanoutSample:
    offered: str  # "25/s" (paced) or "16 in flight" (as fast as the producers go)
    streams: int
    interactions: Sample  # the producers' side while the streams were open
    events: int  # delivered, summed over the streams
    least: int  # the fewest any one stream got
    most: int
    seconds: float  # first to last event read in the window
    lag: Quantiles
    notices: dict[str, int]
    reader_cpu_percent: float  # the reading process, over the window
    gateway_cpu_percent: float

    @property
    def delivered_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else math.nan

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["interactions"] = self.interactions.as_dict()
        data["delivered_per_second"] = self.delivered_per_second
        return data


class ReaderProcess(DrivenProcess):
    """The reading process, driven over its stdin and stdout."""

    what = "event stream reader"

    @classmethod
    async def start(cls, url: str, key: str, streams: int) -> "ReaderProcess":
        process = await cls.spawn(
            "-m", "hitl_bench.sse", "--url", url, "--key", key, "--streams", str(streams)
        )
        reader = cls(process)
        line = await reader._line(timeout=60.0)
        if line != f"open {streams}":
            await reader.stop()
            raise RuntimeError(f"the event stream reader said {line!r}")
        return reader

    async def settle(
        self, want_least: int, quiet: float = 0.5, timeout: float = 60.0
    ) -> dict[str, Any]:
        """Reports until every stream has ``want_least`` events and nothing came for
        ``quiet`` seconds (or ``timeout`` passed)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last = await self.report()
        while loop.time() < deadline:
            await asyncio.sleep(quiet)
            now = await self.report()
            if now["events"] == last["events"] and now["least"] >= want_least:
                return now
            last = now
        return last


async def measure_fanout(
    rig: Rig,
    url: str,
    key: str,
    gateway_pid: int,
    *,
    streams: int,
    count: int,
    concurrency: int,
    rate: float | None = None,
) -> FanoutSample:
    """Open ``streams`` event streams, drive ``count`` interactions through ``rig`` with
    ``concurrency`` in flight (at most ``rate`` a second, if given), and read what the
    streams delivered."""
    reader = await ReaderProcess.start(url, key, streams)
    try:
        # A stream subscribes just after its response head went out: go on once every
        # stream has seen events.
        for _ in range(20):
            await drive(rig, 1, 3)
            if (await reader.settle(want_least=1, quiet=0.2, timeout=2.0))["least"] >= 1:
                break
        else:
            raise RuntimeError(f"some of the {streams} event streams got no events")
        await reader.send("mark")
        cpu0 = (cpu_seconds(reader.process.pid), cpu_seconds(gateway_pid), time.perf_counter())
        sample = await drive(rig, concurrency, count, rate=rate)
        report = await reader.settle(want_least=0)
        wall = time.perf_counter() - cpu0[2]
        cpu = (cpu_seconds(reader.process.pid), cpu_seconds(gateway_pid))
    finally:
        await reader.stop()
    return FanoutSample(
        f"{rate:g}/s" if rate is not None else f"{concurrency} in flight",
        streams,
        sample,
        report["events"],
        report["least"],
        report["most"],
        report["last"] - report["first"],
        Quantiles(*report["lag_ms"]),
        report["notices"],
        100.0 * (cpu[0] - cpu0[0]) / wall,
        100.0 * (cpu[1] - cpu0[1]) / wall,
    )


if __name__ == "__main__":
    main()
