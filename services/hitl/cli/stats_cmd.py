"""``hitl stats``: the analytics report (as ``GET /v1/stats`` gives it) straight from Redis."""

import argparse
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import datetime

import orjson

from hitl.core.stats import (
    DEFAULT_TOP,
    DEFAULT_WINDOW,
    Bottlenecks,
    GroupReport,
    PendingLoad,
    ResponderReport,
    SlowAnswers,
    StatsReport,
    WindowError,
    report,
)
from hitl.core.stats import resolve_window as resolve
from hitl.runtime.stores import open_reads
from hitl.settings import Settings

EXAMPLE = """\
examples:
  hitl stats                      the last 24 hours
  hitl stats --window 7d --top 10
  hitl stats --since 2025-06-01T00:00:00Z --until 2025-06-02T00:00:00Z --json

Counters are kept per hour, so a window counts whole hours. Pending counts are those of now.
Exit codes: 0 report printed, 1 Redis unreachable, 2 a window the counters cannot answer."""


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser(
        "stats",
        help="analytics: counts, approval/timeout/cancel rates, response times, bottlenecks",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--window", help=f"how far back: 90m, 24h, 7d, 2w (default {DEFAULT_WINDOW})")
    p.add_argument("--since", type=datetime.fromisoformat, help="start (ISO 8601; UTC if no zone)")
    p.add_argument("--until", type=datetime.fromisoformat, help="end (ISO 8601); default now")
    p.add_argument("--top", type=_top, default=DEFAULT_TOP, help="entries per bottleneck list")
    p.add_argument("--json", action="store_true", help="the report as one JSON document")
    p.set_defaults(handler=stats)


async def stats(args: argparse.Namespace, settings: Settings) -> int:
    try:
        window = resolve(
            time.time(),
            settings.analytics_retention_seconds,
            window=args.window,
            since=args.since,
            until=args.until,
        )
    except WindowError as exc:
        print(f"hitl: {exc} (--{exc.field})", file=sys.stderr)
        return 2
    async with open_reads(settings) as store:
        counters = await store.counters(window.hours)
        found = report(window, counters, await store.pending_counts(), args.top)
    if args.json:
        sys.stdout.write(
            orjson.dumps(found.model_dump(mode="json"), option=orjson.OPT_INDENT_2).decode() + "\n"
        )
    else:
        print(render(found))
    return 0


def _top(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 100:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number from 1 to 100")
    return int(text)


def render(found: StatsReport) -> str:
    """The report as tables, for people."""
    lines = [f"from {_when(found.counted_since)} to {_when(found.until)} (counted by the hour)"]
    lines += _groups("KIND", [*found.by_kind.items(), ("(all)", found.total)])
    if found.by_node:
        lines += _groups("NODE", list(found.by_node.items()))
    if found.by_responder:
        lines += _responders(found.by_responder)
    lines += _bottlenecks(found.bottlenecks)
    return "\n".join(lines)


def _groups(title: str, groups: Sequence[tuple[str, GroupReport]]) -> list[str]:
    header = (title, "COUNT", "DONE", "PENDING", "APPROVED", "TIMED OUT", "CANCELLED", "P50", "P95")
    rows = [
        (
            name,
            str(g.count),
            str(g.finished),
            str(g.pending),
            _rate(g.approval_rate),
            _rate(g.timeout_rate),
            _rate(g.cancel_rate),
            _duration(g.response_time_p50_seconds),
            _duration(g.response_time_p95_seconds),
        )
        for name, g in groups
    ]
    return ["", *_table([header, *rows])]


def _responders(responders: Mapping[str, ResponderReport]) -> list[str]:
    header = ("RESPONDER", "ANSWERS", "PENDING", "P50", "P95")
    rows = [
        (
            "* (anyone)" if name == "*" else name,
            str(r.answers),
            str(r.pending),
            _duration(r.response_time_p50_seconds),
            _duration(r.response_time_p95_seconds),
        )
        for name, r in responders.items()
    ]
    return ["", *_table([header, *rows])]


def _bottlenecks(b: Bottlenecks) -> list[str]:
    def pending(entries: list[PendingLoad]) -> str:
        return ", ".join(f"{p.name} ({p.pending})" for p in entries) or "-"

    def slow(entries: list[SlowAnswers]) -> str:
        times = (f"{s.name} (p95 {_duration(s.response_time_p95_seconds)})" for s in entries)
        return ", ".join(times) or "-"

    return [
        "",
        "BOTTLENECKS",
        f"  most pending nodes: {pending(b.most_pending_nodes)}",
        f"  most pending responders: {pending(b.most_pending_responders)}",
        f"  slowest nodes: {slow(b.slowest_nodes)}",
        f"  slowest responders: {slow(b.slowest_responders)}",
    ]


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def _rate(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.0%}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.3g}s" if seconds < 10 else f"{seconds:.0f}s"


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")
