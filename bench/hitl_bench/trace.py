"""Where the time of one interaction goes, with one in flight: one timeline across processes.

    python -m hitl_bench.trace [--count 600] [--keep DIR] [any other `hitl bench` options]

Runs ``hitl bench --concurrency 1`` (one run, both systems) with ``hitl_bench/tracer`` on
``PYTHONPATH``, so that the bench, the hitl broker and the peer's consumer each record when
their steps happen (see ``tracer/sitecustomize.py``). Then, for each system, it cuts the merged
timeline into interactions (from ``ask`` to ``ask:done``; the first 50 are warm-up) and prints
the median time of every step since ``ask``, with the gap to the step before. A step that
repeats within an interaction is numbered (``write:5672#2``). The marks cost about a
microsecond each, so the figures are a little slower than the bench's.

Steps are prefixed by process: ``B`` the bench (producer SDK and auto-responder), ``K`` the hitl
broker, ``P`` the peer's consumer. ``write:<port>`` is a socket write (5672 RabbitMQ, 6379
Redis), ``amqp:<Frame>`` a frame read from RabbitMQ (``Deliver``/``ContentHeader``/
``ContentBody`` a delivery, ``Ack`` a publisher confirm).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

TRACER = Path(__file__).parent / "tracer"
WARM_UP = 50


def read_marks(directory: Path) -> list[tuple[float, str]]:
    marks = []
    for path in directory.glob("*.txt"):
        for line in path.read_text().splitlines():
            at, step = line.split(" ", 1)
            marks.append((float(at), step))
    marks.sort()
    return marks


def interactions(marks: list[tuple[float, str]]) -> dict[str, list[list[tuple[float, str]]]]:
    """Each ask's marks, from ``B.ask`` to ``B.ask:done``, by system (which service marked)."""
    by_system: dict[str, list[list[tuple[float, str]]]] = {"hitl": [], "peer": []}
    current: list[tuple[float, str]] | None = None
    for at, step in marks:
        if step == "B.ask":
            current = [(at, step)]
        elif current is not None:
            current.append((at, step))
            if step == "B.ask:done":
                services = {s[0] for _, s in current}
                if "K" in services:
                    by_system["hitl"].append(current)
                elif "P" in services:
                    by_system["peer"].append(current)
                current = None
    return by_system


def timeline(asks: list[list[tuple[float, str]]]) -> list[tuple[float, str, int]]:
    """(median ms since ask, step, how many asks had it), for steps most asks had."""
    offsets: dict[str, list[float]] = defaultdict(list)
    for marks in asks:
        start = marks[0][0]
        seen: dict[str, int] = defaultdict(int)
        for at, step in marks:
            seen[step] += 1
            name = f"{step}#{seen[step]}" if seen[step] > 1 else step
            offsets[name].append((at - start) * 1000)
    common = [(statistics.median(v), k, len(v)) for k, v in offsets.items()]
    return sorted(row for row in common if row[2] >= 0.8 * len(asks))


def report(directory: Path) -> str:
    lines = []
    for system, asks in interactions(read_marks(directory)).items():
        asks = asks[WARM_UP:]
        lines.append(f"{system}: {len(asks)} interactions (median ms since ask, gap)")
        before = 0.0
        for at, step, _ in timeline(asks):
            lines.append(f"  {at:7.3f}  +{at - before:6.3f}  {step}")
            before = at
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m hitl_bench.trace")
    parser.add_argument("--count", type=int, default=600, help="interactions per system")
    parser.add_argument("--keep", type=Path, help="keep the raw marks in this directory")
    args, bench_options = parser.parse_known_args()
    directory = args.keep or Path(tempfile.mkdtemp(prefix="hitl-trace-"))
    directory.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, HITL_TRACE_DIR=str(directory))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TRACER), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "hitl.cli.main", "bench", "--concurrency", "1"]
    command += ["--serial-count", str(args.count), "--runs", "1", "--no-growth", "--no-brokers"]
    subprocess.run(command + bench_options, env=env, check=True)
    print(report(directory))


if __name__ == "__main__":
    main()
