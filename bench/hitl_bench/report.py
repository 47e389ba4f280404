"""The result tables, as aligned text for the terminal or as Markdown for docs/benchmarks.md."""

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from hitl_bench.footprint import FINISHED, PENDING, Footprint
from hitl_bench.gateway_side import FIRST_PAGE, GATEWAY, THREAD, ReadSample
from hitl_bench.growth import GrowthSample, Seeding
from hitl_bench.hitl_side import TRACED
from hitl_bench.isolation import ALONE, WITH_SLOW, IsolationSample
from hitl_bench.route_tree import (
    ROUTED,
    ROUTED_ONE,
    ROUTING_PAIRS,
    UNROUTED,
    UNROUTED_ONE,
    DecisionCost,
)
from hitl_bench.scenario import Sample
from hitl_bench.sse import FanoutSample
from hitl_bench.stats import Spread
from hitl_bench.trees import AFTER, BEFORE
from hitl_bench.webhook_delivery import CHANNEL, HTTPX, DeliverySample


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


def _cpu_per_interaction(
    samples: Sequence[Sample], groups: Sequence[str] = ("service", "rabbitmq")
) -> str:
    """CPU milliseconds per interaction of the service process(es) and of RabbitMQ (or other
    ``groups``)."""
    return "/".join(
        f"{Spread.of([s.cpu.get(k, math.nan) * 10 / s.throughput for s in samples]).median:.2f}"
        for k in groups
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


def _x(a: float, b: float) -> float:
    """a / b, or NaN (left out of a spread) where b is 0: a short run's CPU can read 0."""
    return a / b if b else math.nan


def _spread(values: Sequence[float], fmt: str) -> str:
    """'median [lowest to highest]' of per-run figures, each formatted with ``fmt``."""
    spread = Spread.of([v for v in values if not math.isnan(v)])
    if spread.runs <= 1:
        return "-" if spread.runs == 0 else fmt.format(spread.median)
    low, high = fmt.format(spread.low), fmt.format(spread.high)
    return f"{fmt.format(spread.median)} [{low} to {high}]"


def _paired(
    samples: Sequence[Sample], concurrency: int, a: str, b: str
) -> list[tuple[Sample, Sample]]:
    """(a, b) samples of the same run at ``concurrency``."""
    at: dict[tuple[str, int], Sample] = {
        (s.system, s.run): s for s in samples if s.concurrency == concurrency
    }
    runs = sorted({run for system, run in at if system == a})
    return [(at[(a, r)], at[(b, r)]) for r in runs if (b, r) in at]


def baseline(samples: Sequence[Sample]) -> Table:
    """The current tree's broker (after) against --baseline-tree's (before), measured
    interleaved in the same runs; ratios and differences are per run, then the median."""
    table = Table(
        "Current tree (after) against --baseline-tree (before), interleaved: median over "
        "runs, [lowest-highest]; after/before per run, then the median",
        (
            "in flight",
            "tree",
            "interactions/s",
            "round trip - responder",
            "request -> notification p50",
            "answer -> outcome p50",
            "CPU ms/interaction broker/redis",
        ),
    )
    for c in sorted({s.concurrency for s in samples if s.system == BEFORE}):
        pairs = _paired(samples, c, AFTER, BEFORE)
        for label, group in (
            ("before", [b for _, b in pairs]),
            ("after", [a for a, _ in pairs]),
        ):
            table.rows.append(
                (
                    str(c),
                    label,
                    Spread.of([s.throughput for s in group]).show("{:.0f}"),
                    _lat(group, "round_trip")[0],
                    Spread.of([s.notify.p50 for s in group]).show(),
                    Spread.of([s.outcome.p50 for s in group]).show(),
                    _cpu_per_interaction(group, ("service", "redis")),
                )
            )
        table.rows.append(
            (
                str(c),
                "after/before",
                _spread([_x(a.throughput, b.throughput) for a, b in pairs], "x{:.2f}"),
                "p50 "
                + _spread([a.round_trip.p50 - b.round_trip.p50 for a, b in pairs], "{:+.2f}")
                + " ms",
                _spread([a.notify.p50 - b.notify.p50 for a, b in pairs], "{:+.2f}") + " ms",
                _spread([a.outcome.p50 - b.outcome.p50 for a, b in pairs], "{:+.2f}") + " ms",
                "",
            )
        )
    return table


def gateway(samples: Sequence[Sample]) -> Table:
    """Answers through the gateway's HTTP against answers over AMQP (the ``hitl`` samples:
    another broker of the same tree, in the same runs)."""
    table = Table(
        "Answering through the gateway (HTTP) against over AMQP, interleaved: median over "
        "runs, [lowest-highest]; http/amqp per run, then the median",
        (
            "in flight",
            "answer via",
            "interactions/s",
            "round trip - responder",
            "answer -> outcome",
            "CPU% svc/gateway/bench/rabbit/redis",
            "CPU ms/interaction svc",
        ),
    )
    for c in sorted({s.concurrency for s in samples if s.system == GATEWAY}):
        pairs = _paired(samples, c, GATEWAY, AFTER)
        for label, group in (("amqp", [b for _, b in pairs]), ("http", [a for a, _ in pairs])):
            cpu = "/".join(
                Spread.of([s.cpu[k] for s in group if k in s.cpu]).show("{:.0f}").split()[0]
                for k in ("service", "gateway", "bench", "rabbitmq", "redis")
            )
            table.rows.append(
                (
                    str(c),
                    label,
                    Spread.of([s.throughput for s in group]).show("{:.0f}"),
                    _lat(group, "round_trip")[0],
                    _lat(group, "outcome")[0],
                    cpu,
                    _cpu_per_interaction(group, ("service",)),
                )
            )
        table.rows.append(
            (
                str(c),
                "http/amqp",
                _spread([_x(a.throughput, b.throughput) for a, b in pairs], "x{:.2f}"),
                "p50 "
                + _spread([a.round_trip.p50 - b.round_trip.p50 for a, b in pairs], "{:+.2f}")
                + " ms",
                "p50 "
                + _spread([a.outcome.p50 - b.outcome.p50 for a, b in pairs], "{:+.2f}")
                + " ms",
                "",
                "",
            )
        )
    return table


def fanout(fanouts: Sequence[FanoutSample]) -> Table:
    table = Table(
        "Event streams: GET /v1/events open on one gateway while interactions run (median "
        "over runs, [range]); lag = read by the client - the event's at",
        (
            "streams",
            "load",
            "interactions/s",
            "events/s delivered, all streams",
            "events per stream (least-most)",
            "lag ms p50 / p95 / p99",
            "notices",
            "CPU% gateway / reader",
        ),
    )
    for streams, offered in dict.fromkeys((f.streams, f.offered) for f in fanouts):
        group = [f for f in fanouts if (f.streams, f.offered) == (streams, offered)]
        notices: dict[str, int] = {}
        for f in group:
            for name, n in f.notices.items():
                notices[name] = notices.get(name, 0) + n
        table.rows.append(
            (
                str(streams),
                offered,
                Spread.of([f.interactions.throughput for f in group]).show("{:.0f}"),
                Spread.of([f.delivered_per_second for f in group]).show("{:.0f}"),
                f"{min(f.least for f in group)}-{max(f.most for f in group)}",
                f"{Spread.of([f.lag.p50 for f in group]).show()} / "
                f"{Spread.of([f.lag.p95 for f in group]).median:.1f} / "
                f"{Spread.of([f.lag.p99 for f in group]).median:.1f}",
                ", ".join(f"{k} {v}" for k, v in sorted(notices.items())) or "none",
                f"{Spread.of([f.gateway_cpu_percent for f in group]).median:.0f} / "
                f"{Spread.of([f.reader_cpu_percent for f in group]).median:.0f}",
            )
        )
    return table


def reads(samples: Sequence[ReadSample]) -> Table:
    table = Table(
        "Listings with N pending: through the gateway's HTTP [the same query on the store's "
        "read port]; ms p50 / p99, median over runs",
        (
            "pending",
            "first page (GET /v1/interactions?status=pending, 50)",
            "thread (GET /v1/threads/{id}/pending)",
        ),
    )
    levels = sorted({r.pending for r in samples})

    def cell(group: Sequence[ReadSample]) -> str:
        http50 = Spread.of([r.http.p50 for r in group]).median
        http99 = Spread.of([r.http.p99 for r in group]).median
        store50 = Spread.of([r.store.p50 for r in group]).median
        store99 = Spread.of([r.store.p99 for r in group]).median
        return f"{http50:.2f} / {http99:.2f} [{store50:.2f} / {store99:.2f}]"

    def of(level: int, what: str) -> list[ReadSample]:
        return [r for r in samples if r.pending == level and r.what == what]

    for level in levels:
        table.rows.append((f"{level:,}", cell(of(level, FIRST_PAGE)), cell(of(level, THREAD))))
    if len(levels) > 1:
        low, high = levels[0], levels[-1]

        def growth(what: str) -> str:
            a = Spread.of([r.http.p50 for r in of(high, what)]).median
            b = Spread.of([r.http.p50 for r in of(low, what)]).median
            c = Spread.of([r.http.p99 for r in of(high, what)]).median
            d = Spread.of([r.http.p99 for r in of(low, what)]).median
            return f"p50 {_ratio(a, b)}, p99 {_ratio(c, d)}"

        table.rows.append((f"{high:,} / {low:,}", growth(FIRST_PAGE), growth(THREAD)))
    return table


def footprint(footprints: Sequence[Footprint]) -> Table:
    table = Table(
        "Redis bytes per interaction (median over runs, [range]): INFO used_memory delta / N, "
        "and the namespace keys' MEMORY USAGE / N",
        (
            "tree",
            "pending: INFO",
            "pending: keys",
            "of which request JSON",
            "finished and retained: INFO",
            "finished: keys",
            "N pending / finished",
        ),
    )
    medians: dict[tuple[str, str], tuple[float, float]] = {}
    compared = any(f.tree == BEFORE for f in footprints)
    for tree in (BEFORE, AFTER):
        cells: list[str] = []
        counts: list[str] = []
        for kind in (PENDING, FINISHED):
            group = [f for f in footprints if f.tree == tree and f.kind == kind]
            per = Spread.of([f.per_interaction for f in group])
            keys = Spread.of([f.keys_per_interaction for f in group])
            medians[(tree, kind)] = (per.median, keys.median)
            cells += [per.show("{:.0f}"), keys.show("{:.0f}")]
            counts.append(f"{group[0].count:,}" if group else "-")
        if all(cell == "-" for cell in cells):
            continue
        payload = [f.payload_bytes / f.count for f in footprints if f.tree == tree]
        label = ("before" if tree == BEFORE else "after") if compared else tree
        table.rows.append(
            (
                label,
                *cells[:2],
                f"{Spread.of([p for p in payload if p]).median:.0f}",
                *cells[2:],
                " / ".join(counts),
            )
        )
    if len(table.rows) == 2:

        def ratio(kind: str, at: int) -> str:
            return _ratio(medians[(AFTER, kind)][at], medians[(BEFORE, kind)][at])

        table.rows.append(
            (
                "after/before",
                ratio(PENDING, 0),
                ratio(PENDING, 1),
                "",
                ratio(FINISHED, 0),
                ratio(FINISHED, 1),
                "",
            )
        )
    return table


def footprint_classes(footprints: Sequence[Footprint]) -> Table:
    """Each kind of key's share of the bytes per interaction (``footprint.key_class``)."""
    columns = [
        (tree, kind)
        for tree in (BEFORE, AFTER)
        for kind in (PENDING, FINISHED)
        if any(f.tree == tree and f.kind == kind for f in footprints)
    ]
    compared = any(tree == BEFORE for tree, _ in columns)

    def label(tree: str) -> str:
        return ("before" if tree == BEFORE else "after") if compared else tree

    table = Table(
        "Where the bytes go: MEMORY USAGE of each kind of key / N (median over runs)",
        ("key", *(f"{label(tree)} {kind}" for tree, kind in columns)),
    )
    names = sorted({name for f in footprints for name in f.classes})
    for name in names:
        cells = []
        for tree, kind in columns:
            group = [f for f in footprints if f.tree == tree and f.kind == kind]
            per = Spread.of([f.classes.get(name, 0) / f.count for f in group]).median
            cells.append(f"{per:.0f}" if round(per) else "-")
        table.rows.append((name, *cells))
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


def routing_decision(costs: Sequence[DecisionCost]) -> Table:
    """The routing decision in process (issue 14): ``recipients(config, request, ...)``."""
    table = Table(
        "Routing decision in process: recipients(config, request, default, now) per request, "
        "us (one call at a time, after a warm-up pass, deciding anew; remembered: a request "
        "whose matched values were routed before)",
        (
            "routes (regex / continue)",
            "receivers",
            "depth",
            "requests x passes",
            "p50",
            "p99",
            "mean",
            "remembered, mean",
            "without a routing file, mean",
            "receivers per request (most)",
            "routes landed on",
            "file load / compile ms",
        ),
    )
    for c in costs:
        table.rows.append(
            (
                f"{c.routes:,} ({c.regex_routes} / {c.continue_routes})",
                str(c.receivers),
                str(c.depth),
                f"{c.requests:,} x {c.passes}",
                f"{c.p50_us:.1f}",
                f"{c.p99_us:.1f}",
                f"{c.mean_us:.1f}",
                f"{c.remembered_mean_us:.2f}",
                f"{c.off_mean_us:.2f}",
                f"{c.receivers_per_request:.2f} ({c.most_receivers})",
                str(c.landed_routes),
                f"{c.load_ms:.0f} / {c.compile_ms:.1f}",
            )
        )
    return table


def routing(samples: Sequence[Sample]) -> Table:
    """Brokers with the generated routing file (``routed``: requests reaching one receiver or
    more; ``routed-1``: exactly one) against brokers without it sent the same requests
    (``unrouted``, ``unrouted-1``), interleaved in the same runs; on/off per run, then the
    median. The plain hitl broker (no labels, no node name) is shown beside them, and
    unrouted/plain says what the requests' labels and node names cost without routing."""
    table = Table(
        "Routing on (a broker with the generated tree) against off (a broker without it, sent "
        "the same requests; '1 receiver': requests the tree sends to one receiver; plain: the "
        "hitl rig's requests, no labels), interleaved: median over runs, [lowest-highest]; "
        "on/off per run, then the median",
        (
            "in flight",
            "routing",
            "interactions/s",
            "round trip - responder",
            "request -> notification p50",
            "notifications per request",
            "CPU ms/interaction broker/rabbit",
        ),
    )
    names = {
        AFTER: "plain",
        UNROUTED: "off",
        ROUTED: "on",
        UNROUTED_ONE: "off, 1 receiver",
        ROUTED_ONE: "on, 1 receiver",
    }
    for c in sorted({s.concurrency for s in samples if s.system in ROUTING_PAIRS}):
        measured = [n for n in names if any(s.system == n and s.concurrency == c for s in samples)]
        for system in measured:
            group = [s for s in samples if s.system == system and s.concurrency == c]
            table.rows.append(
                (
                    *_rig_cells(c, names[system], group),
                    Spread.of([s.notifications / s.count for s in group]).show("{:.2f}"),
                    _cpu_per_interaction(group),
                )
            )
        compared = [*ROUTING_PAIRS.items(), (UNROUTED, AFTER)]
        for on, off in compared:
            pairs = _paired(samples, c, on, off)
            if not pairs:
                continue
            *ratios, cpu = _pair_cells(pairs)
            table.rows.append((str(c), f"{names[on]} / {names[off]}", *ratios, "", cpu))
    return table


def _rig_cells(c: int, label: str, group: Sequence[Sample]) -> tuple[str, ...]:
    """In flight, the rig, interactions/s, round trip and request -> notification p50."""
    return (
        str(c),
        label,
        Spread.of([s.throughput for s in group]).show("{:.0f}"),
        _lat(group, "round_trip")[0],
        Spread.of([s.notify.p50 for s in group]).show(),
    )


def _pair_cells(pairs: Sequence[tuple[Sample, Sample]]) -> tuple[str, str, str, str]:
    """Of (a, b) runs side by side: a/b throughput, round trip and request -> notification
    p50 differences, a/b broker CPU; per run, then the median."""
    return (
        _spread([_x(a.throughput, b.throughput) for a, b in pairs], "x{:.2f}"),
        "p50 "
        + _spread([a.round_trip.p50 - b.round_trip.p50 for a, b in pairs], "{:+.2f}")
        + " ms",
        _spread([a.notify.p50 - b.notify.p50 for a, b in pairs], "{:+.2f}") + " ms",
        "broker CPU " + _spread([_x(_broker_ms(a), _broker_ms(b)) for a, b in pairs], "x{:.2f}"),
    )


def _broker_ms(sample: Sample) -> float:
    """Broker CPU per interaction, ms."""
    return sample.cpu.get("service", math.nan) * 10 / sample.throughput


def trace(samples: Sequence[Sample]) -> Table:
    """A broker sent traced requests (each with a W3C traceparent of a trace of its own,
    passed on to its notification, events and outcome; no spans made) against the
    plain hitl broker, sent the same requests without, interleaved in the same runs;
    traced/untraced per run, then the median (issue 17's target: throughput at least x0.97)."""
    table = Table(
        "Trace propagation on (each request with a traceparent, no spans) against off "
        "(the plain hitl broker), interleaved: median over runs, [lowest-highest]; "
        "traced/untraced per run, then the median",
        (
            "in flight",
            "requests",
            "interactions/s",
            "round trip - responder",
            "request -> notification p50",
            "CPU ms/interaction broker/rabbit",
        ),
    )
    names = {AFTER: "untraced", TRACED: "traced"}
    for c in sorted({s.concurrency for s in samples if s.system == TRACED}):
        pairs = _paired(samples, c, TRACED, AFTER)
        for system in names:
            group = [s for s in samples if s.system == system and s.concurrency == c]
            table.rows.append((*_rig_cells(c, names[system], group), _cpu_per_interaction(group)))
        table.rows.append((str(c), "traced/untraced", *_pair_cells(pairs)))
    return table


WEBHOOKS_TITLE = (
    "Webhook delivery to a local receiver (its own process, 204): notifications/s, median "
    "over runs, [lowest-highest]; channel/httpx per run, then the median"
)


def webhooks(
    samples: Sequence[DeliverySample],
    title: str = WEBHOOKS_TITLE,
    senders: tuple[str, str] = (CHANNEL, HTTPX),
) -> Table:
    """Delivery through hitl's channel against a hand-written sender (webhooks: httpx), the
    same payloads to the same receiver process, interleaved; channel/baseline per run, then
    the median. Issue 15's email and Slack tables are this one with their own senders."""
    ours, theirs = senders
    table = Table(
        title,
        (
            "in flight",
            "sender",
            "notifications/s",
            "CPU% sender/receiver",
            "sender CPU ms/notification",
            "connections opened",
        ),
    )
    for c in sorted({d.concurrency for d in samples}):
        at = {(d.sender, d.run): d for d in samples if d.concurrency == c}
        for sender in senders:
            group = [d for (name, _), d in sorted(at.items()) if name == sender]
            table.rows.append(
                (
                    str(c),
                    sender,
                    Spread.of([d.throughput for d in group]).show("{:.0f}"),
                    f"{Spread.of([d.sender_cpu for d in group]).median:.0f}/"
                    f"{Spread.of([d.receiver_cpu for d in group]).median:.0f}",
                    Spread.of([d.sender_cpu_ms for d in group]).show("{:.3f}"),
                    Spread.of([float(d.connections) for d in group]).show("{:.0f}"),
                )
            )
        runs = sorted({run for _, run in at})
        pairs = [(at[(ours, r)], at[(theirs, r)]) for r in runs if (ours, r) in at]
        table.rows.append(
            (
                str(c),
                f"{ours}/{theirs}",
                _spread([_x(a.throughput, b.throughput) for a, b in pairs], "x{:.2f}"),
                "",
                _spread([_x(a.sender_cpu_ms, b.sender_cpu_ms) for a, b in pairs], "x{:.2f}"),
                "",
            )
        )
    return table


def isolation(samples: Sequence[IsolationSample]) -> Table:
    """The fast receiver's delivery latency alone and beside a hanging receiver."""
    table = Table(
        "Slow-receiver isolation: the fast webhook receiver's latency, request published -> "
        "POST received, ms p50 / p95 / p99 (median over runs, [range of p50]); with/alone per "
        "run, then the median",
        (
            "phase",
            "requests to fast (rate)",
            "delivered",
            "latency p50 / p95 / p99",
            "p99 [range]",
            "requests to the other route / POSTs its receiver got",
            "CPU% notifier/broker",
        ),
    )
    for phase in (ALONE, WITH_SLOW):
        group = [i for i in samples if i.phase == phase]
        if not group:
            continue
        table.rows.append(
            (
                phase,
                f"{group[0].count} ({group[0].rate:g}/s)",
                "/".join(str(i.delivered) for i in group),
                f"{Spread.of([i.latency.p50 for i in group]).show()} / "
                f"{Spread.of([i.latency.p95 for i in group]).median:.1f} / "
                f"{Spread.of([i.latency.p99 for i in group]).median:.1f}",
                Spread.of([i.latency.p99 for i in group]).show(),
                f"{group[0].slow_requests} / " + "/".join(str(i.slow_received) for i in group),
                f"{Spread.of([i.notifier_cpu for i in group]).median:.0f}/"
                f"{Spread.of([i.broker_cpu for i in group]).median:.0f}",
            )
        )
    at = {(i.phase, i.run): i for i in samples}
    pairs = [
        (at[(WITH_SLOW, r)], at[(ALONE, r)]) for p, r in at if p == ALONE and (WITH_SLOW, r) in at
    ]
    if pairs:
        table.rows.append(
            (
                "hanging/responsive",
                "",
                "",
                "p50 " + _spread([_x(a.latency.p50, b.latency.p50) for a, b in pairs], "x{:.2f}"),
                "p99 " + _spread([_x(a.latency.p99, b.latency.p99) for a, b in pairs], "x{:.2f}"),
                "",
                "",
            )
        )
    return table
