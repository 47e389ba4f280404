"""``hitl show`` for people: the request, where it stands and its outcome, then its history,
each step at its ISO time and how long after the request it came."""

from datetime import datetime

import orjson
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from hitl.cli.common import out
from hitl.cli.render import claim_text, decided, duration, iso, table
from hitl.gateway.models import InteractionDetail
from hitl_contract import HistoryEntry


def render_detail(d: InteractionDetail) -> None:
    r = d.request
    facts: list[tuple[str, str]] = [
        ("id", str(d.id)),
        ("kind", r.kind),
        ("status", d.status),
        ("thread", r.thread_id),
        ("node", r.node_name or "-"),
        ("requester", r.requester.id),
        ("requested", f"{iso(d.requested_at)} ({_ago(d.requested_at)} ago)"),
    ]
    if d.claim is not None:
        facts.append(("claim", f"{claim_text(d.claim)} (in {_until(d.claim.until)})"))
    if d.deadline is not None:
        facts.append(("deadline", f"{iso(d.deadline)} (in {_until(d.deadline)})"))
    for name, at in sorted(d.timers.items()):
        facts.append((f"timer {name}", iso(at)))
    if r.labels:
        facts.append(("labels", ", ".join(f"{k}={v}" for k, v in sorted(r.labels.items()))))
    if r.responders:
        facts.append(("responders", ", ".join(r.responders)))
    if d.actions:
        facts.append(("actions", ", ".join(d.actions)))
    if d.outcome is not None:
        o = d.outcome
        took = duration((o.resolved_at - o.requested_at).total_seconds())
        facts.append(("outcome", f"{decided(o)} after {took}"))
        if o.data:
            facts.append(("outcome data", orjson.dumps(o.data).decode()))
    facts += [("vote", f"{v.responder.id}: {v.action} at {iso(v.at)}") for v in d.votes]
    _facts(r.prompt, facts)
    _history(d)


def _facts(prompt: str, facts: list[tuple[str, str]]) -> None:
    if out.is_terminal:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(overflow="fold")
        for name, value in facts:
            grid.add_row(name, Text(value))
        out.print(Panel(grid, title=Text(" ".join(prompt.split())[:80]), title_align="left"))
        return
    out.print(" ".join(prompt.split()), markup=False)
    width = max(len(name) for name, _ in facts)
    for name, value in facts:
        out.print(f"  {name.ljust(width)}  {value}", markup=False)


def _history(d: InteractionDetail) -> None:
    if not d.history:
        return
    out.print()
    rows = [
        (
            iso(h.at),
            "+" + duration((h.at - d.requested_at).total_seconds()),
            h.event.value,
            h.by.id if h.by else "-",
            h.channel or "-",
            h.action or "-",
            _what(h),
        )
        for h in d.history
    ]
    table(("AT", "AFTER", "EVENT", "BY", "CHANNEL", "ACTION", "DETAIL"), rows)


def _what(h: HistoryEntry) -> str:
    parts = []
    if h.route:
        parts.append(f"route {h.route}")
    if h.receivers:
        parts.append("to " + ", ".join(h.receivers))
    if h.receiver:
        parts.append(f"receiver {h.receiver}")
    if h.decided_by:
        parts.append(f"decided by {h.decided_by}")
    if h.policy:
        parts.append(f"policy {h.policy}")
    if h.error is not None:
        where = f" at {h.error.path}" if h.error.path else ""
        parts.append(f"refused{where}: {h.error.message}")
    if h.detail:
        parts.append(h.detail)
    return "; ".join(parts) or "-"


def _ago(at: datetime) -> str:
    return duration(datetime.now(at.tzinfo).timestamp() - at.timestamp())


def _until(at: datetime) -> str:
    return duration(at.timestamp() - datetime.now(at.tzinfo).timestamp())
