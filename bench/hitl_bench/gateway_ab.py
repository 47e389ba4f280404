"""Answers through gateways built from different trees, and over AMQP, on one broker, in
turn: the gateway's own changes measured A/B in the same run, so a busy machine's drift falls
on every path alike.

    python -m hitl_bench.gateway_ab --tree before=/tmp/snap [--tree after=.] [--rounds 4]
        [--concurrency 1,64] [--count 2000] [--serial-count 300]
        [--profile DIR --profile-seconds 15]

One ``hitl broker`` (this checkout's), one namespace, and one ``hitl gateway`` process per
``--tree NAME=DIR`` (``DIR/services`` and ``DIR/schemas`` first on its PYTHONPATH; ``.`` is
the hitl this process imports). The producers and the auto-responder are the end-to-end
bench's; a path answers each notification over AMQP (``amqp``) or with ``POST
/v1/interactions/{id}/responses`` to its gateway. Each round drives every path once at each
concurrency, who goes first rotating. Printed per path and round: interactions/s, round trip
less the responder p50, and the gateway's CPU ms per answer; then each gateway against
``amqp`` and against the first tree, per round and the median.

With ``--callgrind DIR``, each gateway runs under ``valgrind --tool=callgrind`` (its dumps in
DIR): its counts are zeroed before each of its runs and dumped after, and the table gains the
gateway's instructions per answer, a figure that a busy machine does not move (CPU time does,
by tens of percent). The gateways are then some fifty times slower, so the throughput and
latency columns say nothing; use ``--count 1000`` or less.

With ``--profile DIR``, each gateway is then recorded by py-spy (``record --format raw``) for
``--profile-seconds`` at the highest concurrency, and summarised as ``hitl_bench.profile``
does.
"""

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import uvloop

from hitl_bench.gateway_side import Gateway, http_answer
from hitl_bench.hitl_side import HitlRig, new_namespace
from hitl_bench.http import HttpError
from hitl_bench.profile import record, summarise
from hitl_bench.scenario import AutoResponder, Sample, drive

AMQP = "amqp"


@dataclass
class AnswerPath:
    """One way to answer: over AMQP (``gateway`` None) or through a gateway process."""

    name: str
    hitl: HitlRig
    gateway: Gateway | None = None

    @property
    def responder(self) -> AutoResponder:
        return self.hitl.responder

    async def ask_one(self, seq: int) -> tuple[str, float, float]:
        return await self.hitl.ask_one(seq)

    def cpu_groups(self) -> Mapping[str, Sequence[int]]:
        groups = dict(self.hitl.cpu_groups())
        if self.gateway is not None:
            groups["gateway"] = [self.gateway.child.pid]
        return groups

    def use(self) -> None:
        """Make the responder answer through this path."""
        if self.gateway is None:
            self.responder.answer_over()
        else:
            self.responder.answer_over(http_answer, self._post)

    async def _post(self, interaction_id: str, body: bytes) -> None:
        assert self.gateway is not None
        path = f"/v1/interactions/{interaction_id}/responses"
        response = await self.gateway.client.post_json(path, body)
        if response.status != 200:
            raise HttpError(f"answer {interaction_id}: HTTP {response.status} {response.body!r}")


@dataclass(frozen=True, slots=True)
class Measured:
    path: str
    concurrency: int
    round: int
    throughput: float
    round_trip_p50: float  # ms, less the responder's own time
    gateway_ms: float  # gateway CPU per answer (0 over AMQP)
    broker_ms: float
    gateway_ir: float = 0.0  # the gateway's instructions per answer (--callgrind)


def _measured(sample: Sample, rnd: int, instructions: int = 0) -> Measured:
    def per(group: str) -> float:
        return sample.cpu.get(group, 0.0) / 100.0 * sample.elapsed * 1000.0 / sample.count

    return Measured(
        sample.system,
        sample.concurrency,
        rnd,
        sample.throughput,
        sample.round_trip.p50,
        per("gateway"),
        per("service"),
        instructions / sample.count,
    )


def _tree_env(env: dict[str, str], directory: Path) -> dict[str, str]:
    if directory.resolve() == Path.cwd().resolve():
        return env
    first = [str(directory / "services"), str(directory / "schemas")]
    env["PYTHONPATH"] = os.pathsep.join([*first, *filter(None, [env.get("PYTHONPATH")])])
    return env


def _spread(values: list[float], fmt: str) -> str:
    return f"{fmt.format(statistics.median(values))} [{' '.join(fmt.format(v) for v in values)}]"


def table(measured: list[Measured]) -> str:
    names = list(dict.fromkeys(m.path for m in measured))
    trees = [n for n in names if n != AMQP]
    by = {(m.path, m.concurrency, m.round): m for m in measured}
    out = []
    for c in sorted({m.concurrency for m in measured}):
        rounds = sorted({m.round for m in measured if m.concurrency == c})
        out.append(f"-- {c} in flight: median [per round]")
        for name in names:
            ms = [by[name, c, r] for r in rounds if (name, c, r) in by]
            out.append(
                f"{name:<10} {_spread([m.throughput for m in ms], '{:.0f}')}/s  "
                f"round trip p50 {_spread([m.round_trip_p50 for m in ms], '{:.2f}')} ms  "
                f"gateway {_spread([m.gateway_ms for m in ms], '{:.3f}')} ms/answer  "
                f"broker {statistics.median([m.broker_ms for m in ms]):.3f}"
                + (
                    f"  gateway {_spread([m.gateway_ir / 1000 for m in ms], '{:.0f}')}k "
                    "instructions/answer"
                    if any(m.gateway_ir for m in ms)
                    else ""
                )
            )
        for name in trees:
            for base in (AMQP, trees[0]):
                if name == base:
                    continue
                pairs = [(by[name, c, r], by[base, c, r]) for r in rounds]
                out.append(
                    f"{name}/{base}: throughput "
                    f"{_spread([a.throughput / b.throughput for a, b in pairs], 'x{:.2f}')}; "
                    "round trip p50 "
                    + _spread([a.round_trip_p50 - b.round_trip_p50 for a, b in pairs], "{:+.2f}")
                    + " ms"
                    + (
                        "; gateway CPU "
                        + _spread([a.gateway_ms / b.gateway_ms for a, b in pairs], "x{:.2f}")
                        if base != AMQP
                        else ""
                    )
                    + (
                        "; gateway instructions "
                        + _spread([a.gateway_ir / b.gateway_ir for a, b in pairs], "x{:.3f}")
                        if base != AMQP and all(b.gateway_ir for _, b in pairs)
                        else ""
                    )
                )
    return "\n".join(out)


async def _profile(path: AnswerPath, directory: Path, seconds: int, concurrency: int) -> str:
    assert path.gateway is not None
    path.use()
    out = directory / f"{path.name}.raw"
    return await record(
        path, path.gateway.child.pid, out, seconds=seconds, rate=200, concurrency=concurrency
    )


async def _callgrind(command: str, pid: int) -> None:
    """``callgrind_control -z`` (zero the counts) or ``-d`` (dump them) on a process."""
    process = await asyncio.create_subprocess_exec(
        "callgrind_control",
        command,
        str(pid),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    if await process.wait() != 0:
        raise RuntimeError(f"callgrind_control {command} {pid} failed")


def _last_dump_total(directory: Path, name: str) -> int:
    """The instructions of the newest dump of ``name`` (its ``summary:`` line)."""
    dumps = sorted(directory.glob(f"{name}.*"), key=lambda p: p.stat().st_mtime)
    for line in dumps[-1].read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {dumps[-1]}")


def _callgrind_wrapper(dumps: Path | None, name: str) -> list[str]:
    if dumps is None:
        return []
    dumps.mkdir(parents=True, exist_ok=True)
    return ["valgrind", "--tool=callgrind", f"--callgrind-out-file={dumps}/{name}"]


async def _drive_counted(
    path: AnswerPath, concurrency: int, count: int, dumps: Path | None
) -> tuple[Sample, int]:
    """A run of ``path``; with ``dumps``, also its gateway's instructions in that run."""
    if dumps is None or path.gateway is None:
        return await drive(path, concurrency, count), 0
    pid = path.gateway.child.pid
    await _callgrind("-z", pid)
    sample = await drive(path, concurrency, count)
    await _callgrind("-d", pid)
    await asyncio.sleep(1.0)  # the dump is written by the process itself, at its next check
    return sample, _last_dump_total(dumps, path.name)


async def main(args: argparse.Namespace) -> None:
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="hitl-gateway-ab-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    amqp_url = os.environ.get("HITL_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    redis_url = os.environ.get("HITL_REDIS_URL", "redis://127.0.0.1:6379/0")
    hitl = HitlRig(
        amqp_url,
        redis_url,
        new_namespace("gwab"),
        log_dir,
        {"HITL_POLL_INTERVAL_SECONDS": "0.25"},
    )
    paths = [AnswerPath(AMQP, hitl)]
    measured: list[Measured] = []
    try:
        await hitl.start()
        dumps: Path | None = args.callgrind
        for name, directory in args.tree:
            env = _tree_env(hitl.env(), directory)
            gateway = await Gateway.start(
                env,
                f"{hitl.namespace}-gw-{name}",
                log_dir,
                ("read", "respond"),
                wrapper=_callgrind_wrapper(dumps, name),
            )
            paths.append(AnswerPath(name, hitl, gateway))
        for path in paths:
            path.use()
            await drive(path, 16, args.warmup)
        for rnd in range(args.rounds):
            for i, c in enumerate(args.concurrency):
                turn = (rnd + i) % len(paths)
                for path in paths[turn:] + paths[:turn]:
                    path.use()
                    count = args.serial_count if c == 1 else args.count
                    sample, instructions = await _drive_counted(path, c, count, dumps)
                    m = _measured(sample, rnd, instructions)
                    measured.append(m)
                    print(
                        f"round {rnd + 1} x{c:<3} {m.path:<10} {m.throughput:6.0f}/s  "
                        f"round trip p50 {m.round_trip_p50:.2f} ms  gateway "
                        f"{m.gateway_ms:.3f} ms/answer  broker {m.broker_ms:.3f}"
                        + (f"  {m.gateway_ir / 1000:.0f}k instructions" if m.gateway_ir else ""),
                        file=sys.stderr,
                        flush=True,
                    )
        print(table(measured), flush=True)
        if args.profile is not None:
            args.profile.mkdir(parents=True, exist_ok=True)
            for path in paths[1:]:
                raw = await _profile(
                    path, args.profile, args.profile_seconds, max(args.concurrency)
                )
                print(f"\n== {path.name} ({args.profile / (path.name + '.raw')})")
                print(summarise(raw, args.top))
    finally:
        for path in paths[1:]:
            if path.gateway is not None:
                with contextlib.suppress(Exception):
                    await path.gateway.stop()
        with contextlib.suppress(Exception):
            await hitl.close()


def _tree(text: str) -> tuple[str, Path]:
    name, sep, directory = text.partition("=")
    if not sep or not name or name == AMQP:
        raise argparse.ArgumentTypeError(f"NAME=DIR, NAME not {AMQP!r}: {text!r}")
    return name, Path(directory)


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",")]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m hitl_bench.gateway_ab")
    parser.add_argument("--tree", type=_tree, action="append", required=True)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--concurrency", type=_ints, default=[1, 64])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--serial-count", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--log-dir", type=Path)
    parser.add_argument("--profile", type=Path, help="then record each gateway with py-spy")
    parser.add_argument(
        "--callgrind", type=Path, help="run the gateways under callgrind, dumps in this folder"
    )
    parser.add_argument("--profile-seconds", type=int, default=15)
    parser.add_argument("--top", type=int, default=30)
    uvloop.run(main(parser.parse_args()))
