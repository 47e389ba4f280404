"""Profile a hitl broker process under load with py-spy, and summarise where its CPU goes.

    python -m hitl_bench.profile [--seconds 20] [--concurrency 64] [--rate 250]

Starts a broker (``python -m hitl.cli.main broker``; with ``--system peer``, the hand-written
peer's consumer) on a namespace of its own, drives it with the same producers and
auto-responder as ``hitl bench``, records that process with ``py-spy record
--format raw --function --nonblocking`` (py-spy must be on PATH or in this venv:
``uv pip install py-spy``), then prints the functions with the most samples, on-CPU only,
by self time and by inclusive time, and the share of each library.
"""

import argparse
import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

from hitl_bench.hitl_side import HitlRig, new_namespace
from hitl_bench.peer import PeerRig
from hitl_bench.scenario import Rig, drive

# (label, substring of a frame's file): the first match names a frame's library.
LIBRARIES = (
    ("redis-py", "(redis/"),
    ("pydantic", "(pydantic"),
    ("aio-pika/aiormq/pamqp", "(aio_pika/"),
    ("aio-pika/aiormq/pamqp", "(aiormq/"),
    ("aio-pika/aiormq/pamqp", "(pamqp/"),
    ("logging", "(logging/"),
    ("prometheus_client", "(prometheus_client/"),
    ("hitl", "(hitl/"),
    ("hitl_contract", "(hitl_contract/"),
    ("dataclasses (generated __init__, replace)", "(dataclasses.py"),
    ("dataclasses (generated __init__, replace)", "(<string>"),
    ("uuid", "(uuid.py"),
    ("event loop (uvloop C code under Runner.run)", "Runner.run (asyncio/runners.py"),
    ("asyncio (streams, tasks, locks, timeouts)", "(asyncio/"),
)


def _library(frame: str) -> str:
    for label, needle in LIBRARIES:
        if needle in frame:
            return label
    return "other"


def summarise(raw: str, top: int = 25) -> str:
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    library: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        self_time[frames[-1]] += count
        library[_library(frames[-1])] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        return "no samples"
    out = [f"{total} on-CPU samples"]
    out.append("\nself time by library (the function on CPU):")
    out += [f"  {100 * n / total:5.1f}%  {name}" for name, n in library.most_common()]
    out.append(f"\ntop {top} functions by self time:")
    out += [f"  {100 * n / total:5.1f}%  {name}" for name, n in self_time.most_common(top)]
    out.append(f"\ntop {top} functions by inclusive time (on the stack):")
    out += [
        f"  {100 * n / total:5.1f}%  {name}"
        for name, n in inclusive.most_common(top + 15)
        if "<module>" not in name and "run_forever" not in name and "_run_once" not in name
    ][:top]
    return "\n".join(out)


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("py-spy not found: uv pip install py-spy")
    return found


async def record(
    rig: Rig,
    pid: int,
    out: Path,
    *,
    seconds: int,
    rate: int,
    concurrency: int,
    native: bool = False,
) -> str:
    """py-spy records ``pid`` into ``out`` for ``seconds`` while ``concurrency`` producers
    drive ``rig``; returns the raw stacks. ``native`` (C frames too) stops the process at
    each sample (py-spy reads native stacks only from a stopped process)."""
    spy = await asyncio.create_subprocess_exec(
        py_spy(),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(seconds),
        "--rate",
        str(rate),
        "--format",
        "raw",
        "--function",
        *(["--native"] if native else ["--nonblocking"]),
        "--output",
        str(out),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    load = asyncio.create_task(drive(rig, concurrency, 1_000_000))
    await spy.wait()
    load.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await load
    return _read(out)


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


async def main(args: argparse.Namespace) -> None:
    if args.raw is not None:
        print(summarise(args.raw.read_text(), args.top))
        return
    py_spy()  # before anything starts: say at once when it is missing
    work = Path(tempfile.mkdtemp(prefix="hitl-profile-"))
    amqp_url = os.environ.get("HITL_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    redis_url = os.environ.get("HITL_REDIS_URL", "redis://127.0.0.1:6379/0")
    rig: HitlRig | PeerRig
    if args.system == "peer":
        rig = PeerRig(amqp_url, redis_url, new_namespace("profile-peer"), work)
    else:
        rig = HitlRig(amqp_url, redis_url, new_namespace("profile"), work)
    await rig.start()
    try:
        await drive(rig, 16, 200)
        if isinstance(rig, HitlRig):
            pid = rig.brokers[0].pid
        else:
            assert rig.consumer is not None
            pid = rig.consumer.pid
        out = work / f"{args.system}.raw"
        raw = await record(
            rig, pid, out, seconds=args.seconds, rate=args.rate, concurrency=args.concurrency
        )
        sample_rate = f"{args.concurrency} in flight, {args.seconds}s at {args.rate} Hz"
        print(f"{args.system} profile ({sample_rate}); raw stacks in {out}")
        print(summarise(raw, args.top))
    finally:
        await rig.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m hitl_bench.profile")
    parser.add_argument("--system", choices=("hitl", "peer"), default="hitl")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rate", type=int, default=250)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--raw", type=Path, help="only summarise this py-spy raw file")
    import uvloop

    uvloop.run(main(parser.parse_args()))
