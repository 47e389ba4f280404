"""``hitl stats``: the analytics report (as ``GET /v1/stats`` gives it), through the gateway or
straight from Redis."""

from collections.abc import Mapping, Sequence
from datetime import datetime

import click

from hitl.cli.backends.port import Window
from hitl.cli.common import backend, examples, out, print_json, run
from hitl.cli.render import duration, table
from hitl.core.stats import (
    DEFAULT_TOP,
    DEFAULT_WINDOW,
    Bottlenecks,
    GroupReport,
    PendingLoad,
    ResponderReport,
    SlowAnswers,
    StatsReport,
)


def register(app: click.Group) -> None:
    app.add_command(stats)


def _top(ctx: click.Context, param: click.Parameter, text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 100:
        raise click.BadParameter(f"{text!r} is not a number from 1 to 100")
    return int(text)


def _instant(ctx: click.Context, param: click.Parameter, text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(f"{text!r} is not an ISO 8601 time") from exc


@click.command(
    help="Analytics: counts, approval/timeout/cancel rates, response times and bottlenecks by "
    "kind, node and responder. Counters are kept per hour, so a window counts whole hours; "
    "pending counts are those of now.",
    epilog=examples(
        "hitl stats                      the last 24 hours",
        "hitl stats --window 7d --top 10",
        "hitl stats --since 2025-06-01T00:00:00Z --until 2025-06-02T00:00:00Z --json",
    ),
)
@click.option("--window", help=f"How far back: 90m, 24h, 7d, 2w (default {DEFAULT_WINDOW}).")
@click.option("--since", metavar="ISO", callback=_instant, help="Start (ISO 8601; UTC if no zone).")
@click.option("--until", metavar="ISO", callback=_instant, help="End (ISO 8601); default now.")
@click.option(
    "--top",
    default=str(DEFAULT_TOP),
    metavar="N",
    callback=_top,
    help=f"Entries per bottleneck list, 1-100 (default {DEFAULT_TOP}).",
)
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON document.")
@click.pass_context
def stats(
    ctx: click.Context,
    /,
    window: str | None,
    since: datetime | None,
    until: datetime | None,
    top: int,
    as_json: bool,
) -> None:
    found: list[StatsReport] = []

    async def read() -> int:
        async with backend(ctx) as b:
            found.append(await b.stats(Window(window, since, until, top)))
        return 0

    run(read())
    if as_json:
        print_json(found[0])
    else:
        render(found[0])


def render(found: StatsReport) -> None:
    """The report as tables, for people."""
    out.print(
        f"from {_when(found.counted_since)} to {_when(found.until)} (counted by the hour)",
        markup=False,
    )
    _groups("KIND", [*found.by_kind.items(), ("(all)", found.total)])
    if found.by_node:
        _groups("NODE", list(found.by_node.items()))
    if found.by_responder:
        _responders(found.by_responder)
    _bottlenecks(found.bottlenecks)


def _groups(title: str, groups: Sequence[tuple[str, GroupReport]]) -> None:
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
            duration(g.response_time_p50_seconds),
            duration(g.response_time_p95_seconds),
        )
        for name, g in groups
    ]
    out.print()
    table(header, rows)


def _responders(responders: Mapping[str, ResponderReport]) -> None:
    rows = [
        (
            "* (anyone)" if name == "*" else name,
            str(r.answers),
            str(r.pending),
            duration(r.response_time_p50_seconds),
            duration(r.response_time_p95_seconds),
        )
        for name, r in responders.items()
    ]
    out.print()
    table(("RESPONDER", "ANSWERS", "PENDING", "P50", "P95"), rows)


def _bottlenecks(b: Bottlenecks) -> None:
    def pending(entries: list[PendingLoad]) -> str:
        return ", ".join(f"{p.name} ({p.pending})" for p in entries) or "-"

    def slow(entries: list[SlowAnswers]) -> str:
        times = (f"{s.name} (p95 {duration(s.response_time_p95_seconds)})" for s in entries)
        return ", ".join(times) or "-"

    lines = [
        "",
        "BOTTLENECKS",
        f"  most pending nodes: {pending(b.most_pending_nodes)}",
        f"  most pending responders: {pending(b.most_pending_responders)}",
        f"  slowest nodes: {slow(b.slowest_nodes)}",
        f"  slowest responders: {slow(b.slowest_responders)}",
    ]
    for line in lines:
        out.print(line, markup=False)


def _rate(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.0%}"


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")
