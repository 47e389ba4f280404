"""The result tables, as aligned text for the terminal or as Markdown for docs/benchmarks.md."""

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from hitl_bench.growth import GrowthSample, Seeding
from hitl_bench.scenario import Sample
from hitl_bench.stats import Spread


@dataclass
class Table:
    title: str
    header: Sequence[str]
    rows: list[Sequence[str]] = field(default_factory=list)

    def text(self) -> str:
        columns = zip(self.header, *self.rows, strict=True)
        widths = [max(len(str(cell)) for cell in column) for column in columns]
        lines = [self.title]
        lines += [
            "  ".join(str(c).rjust(w) for c, w in zip(row, widths, strict=True))
            for row in (self.header, *self.rows)
        ]
        return "\n".join(lines)

    def markdown(self) -> str:
        lines = [f"**{self.title}**", "", "| " + " | ".join(self.header) + " |"]
        lines.append("|" + "|".join(" --- " for _ in self.header) + "|")
        lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in self.rows]
        return "\n".join(lines)


def _ratio(a: float, b: float) -> str:
    return "-" if not b or math.isnan(a) or math.isnan(b) else f"x{a / b:.2f}"


def _lat(samples: Sequence[Sample], attr: str) -> tuple[str, Spread]:
    """'p50 / p95 / p99' (medians over runs), and the spread of p50."""
    qs = [getattr(s, attr) for s in samples]
    p50 = Spread.of([q.p50 for q in qs])
    p95 = Spread.of([q.p95 for q in qs])
    p99 = Spread.of([q.p99 for q in qs])
    return f"{p50.show()} / {p95.median:.1f} / {p99.median:.1f}", p50


def _cpu(samples: Sequence[Sample]) -> str:
    keys = ("service", "bench", "rabbitmq", "redis")
    return "/".join(
        f"{Spread.of([s.cpu.get(k, math.nan) for s in samples]).median:.0f}" for k in keys
    )


def _cpu_per_interaction(samples: Sequence[Sample]) -> str:
    """CPU milliseconds per interaction of the service process(es) and of RabbitMQ."""
    return "/".join(
        f"{Spread.of([s.cpu.get(k, math.nan) * 10 / s.throughput for s in samples]).median:.2f}"
        for k in ("service", "rabbitmq")
    )


def throughput_ratio(samples: Sequence[Sample], concurrency: int) -> float:
    """hitl interactions/s over the peer's, medians over runs, at ``concurrency`` in flight."""
    tp: dict[str, list[float]] = defaultdict(list)
    for s in samples:
        if s.concurrency == concurrency:
            tp[s.system].append(s.throughput)
    if not tp["hitl"] or not tp["peer"]:
        return math.nan
    return Spread.of(tp["hitl"]).median / Spread.of(tp["peer"]).median


def end_to_end(samples: Sequence[Sample]) -> Table:
    table = Table(
        "End to end: median over runs, [lowest-highest run]; latencies in ms, p50 / p95 / p99",
        (
            "in flight",
            "system",
            "interactions/s",
            "request -> notification",
            "answer -> outcome",
            "round trip - responder",
            "CPU% svc/bench/rabbit/redis",
            "CPU ms/interaction svc/rabbit",
        ),
    )
    by: dict[tuple[int, str], list[Sample]] = defaultdict(list)
    for s in samples:
        by[(s.concurrency, s.system)].append(s)
    for c in sorted({s.concurrency for s in samples}):
        spreads: dict[str, list[Spread]] = {}
        for system in ("hitl", "peer"):
            group = by.get((c, system), [])
            if not group:
                continue
            tp = Spread.of([s.throughput for s in group])
            cells = [_lat(group, a) for a in ("notify", "outcome", "round_trip")]
            spreads[system] = [tp] + [p50 for _, p50 in cells]
            table.rows.append(
                (
                    str(c),
                    system,
                    tp.show("{:.0f}"),
                    *(text for text, _ in cells),
                    _cpu(group),
                    _cpu_per_interaction(group),
                )
            )
        if len(spreads) == 2:
            h, p = spreads["hitl"], spreads["peer"]
            table.rows.append(
                (
                    str(c),
                    "hitl/peer",
                    _ratio(h[0].median, p[0].median),
                    *(
                        f"p50 {_ratio(a.median, b.median)}"
                        for a, b in zip(h[1:], p[1:], strict=True)
                    ),
                    "",
                    "",
                )
            )
    return table


def brokers(samples: Sequence[Sample]) -> Table:
    table = Table(
        "hitl with one and two broker processes (64 in flight)",
        ("brokers", "interactions/s", "round trip - responder", "CPU% brokers/bench/rabbit/redis"),
    )
    by: dict[int, list[Sample]] = defaultdict(list)
    for s in samples:
        by[s.brokers].append(s)
    for n in sorted(by):
        group = by[n]
        tp = Spread.of([s.throughput for s in group])
        table.rows.append((str(n), tp.show("{:.0f}"), _lat(group, "round_trip")[0], _cpu(group)))
    return table


def growth(samples: Sequence[GrowthSample], seedings: dict[int, Seeding]) -> Table:
    table = Table(
        "Growth: a new interaction with N already pending (median over runs, [range])",
        (
            "pending",
            "seeded/s",
            "Redis B/pending beyond payload (payload)",
            "round trip - responder, 1 in flight",
            "interactions/s at 64",
            "broker RSS MiB",
            "broker idle CPU ms/s",
            "poller tick ms p50/p99",
            "claim_due ms",
            "create script ms",
        ),
    )
    by: dict[int, list[GrowthSample]] = defaultdict(list)
    for g in samples:
        by[g.pending].append(g)
    for pending in sorted(by):
        group = by[pending]
        seeding = seedings.get(pending)
        memory = (
            f"{seeding.per_interaction_overhead:.0f} ({seeding.payload_avg:.0f})"
            if seeding
            else "-"
        )
        rate = f"{seeding.added / seeding.seconds:.0f}" if seeding else "-"
        table.rows.append(
            (
                f"{pending:,}",
                rate,
                memory,
                _lat([g.serial for g in group], "round_trip")[0],
                Spread.of([g.loaded.throughput for g in group]).show("{:.0f}"),
                Spread.of([g.rss_kib / 1024 for g in group]).show(),
                Spread.of([g.idle_cpu_ms_per_s for g in group]).show(),
                f"{Spread.of([g.tick_ms_p50 for g in group]).show('{:.2f}')} / "
                f"{Spread.of([g.tick_ms_p99 for g in group]).median:.2f}",
                Spread.of([g.claim_due_ms_p50 for g in group]).show("{:.2f}"),
                Spread.of([g.create_ms_p50 for g in group]).show("{:.2f}"),
            )
        )
    return table
