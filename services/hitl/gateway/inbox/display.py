"""How values look on the inbox's pages: durations, times, people, context, diffs, ids.
Pure; registered as template filters and globals by ``templating``. Every function returns
plain text: the templates escape it."""

import difflib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hitl_contract import Claim, DecidedBy, Identity, InteractionOutcome

FOLD_CHARS = 280  # longer text is folded (the first line shown, the rest on request)
FOLD_LINES = 6
_NOT_ID = re.compile(r"[^A-Za-z0-9_-]")


def duration(seconds: float | None) -> str:
    """``42 s``, ``5 min``, ``3 h 20 min``, ``2 d 4 h``."""
    if seconds is None:
        return ""
    s = int(max(0.0, seconds))
    if s < 60:
        return f"{s} s"
    minutes, hours, days = s // 60, s // 3600, s // 86400
    if s < 3600:
        return f"{minutes} min"
    if s < 86400:
        return f"{hours} h {minutes % 60} min" if minutes % 60 else f"{hours} h"
    return f"{days} d {hours % 24} h" if hours % 24 else f"{days} d"


def when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC") if at is not None else ""


def person(who: Identity | None) -> str:
    if who is None:
        return "unknown"
    return f"{who.display_name} ({who.id})" if who.display_name else who.id


def decider(by: DecidedBy) -> str:
    """``alice (alice@example.com)``, ``the timeout``, ``policy request``, ``votes (quorum)``."""
    if by.identity is not None:
        return person(by.identity)
    if by.type == "timeout":
        return "the timeout"
    if by.type == "responders":
        return f"the votes ({by.policy})" if by.policy else "the votes"
    return f"{by.type} {by.policy}" if by.policy else by.type


def outcome_line(outcome: InteractionOutcome) -> str:
    """One sentence: what was decided, by whom, through which channel, when."""
    verb = {"resolved": "Decided", "cancelled": "Cancelled", "timed_out": "Timed out"}
    line = f"{verb.get(outcome.status.value, 'Decided')} ({outcome.action})"
    if outcome.status.value != "timed_out":
        line += f" by {decider(outcome.decided_by)}"
    if outcome.decided_by.channel:
        line += f" via {outcome.decided_by.channel}"
    return f"{line} at {when(outcome.resolved_at)}"


def claim_line(claim: Claim) -> str:
    """``Claimed by alice until 2025-... UTC`` (``... for team ops ...``, a team's claim)."""
    team = f" for team {claim.team}" if claim.team is not None else ""
    return f"Claimed by {person(claim.holder)}{team} until {when(claim.until)}"


def pretty(value: Any) -> str:
    """JSON, indented, non-ASCII kept as it is."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)


def folds(text: str) -> bool:
    return len(text) > FOLD_CHARS or text.count("\n") >= FOLD_LINES


def headline(text: str, limit: int = 120) -> str:
    """The first line of ``text``, cut to ``limit`` characters."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= limit else first[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class Shown:
    """One entry of a request's context as the page shows it: ``text`` is the value itself
    for a string, indented JSON for anything else; ``folded`` when it is long."""

    key: str
    text: str
    block: bool  # JSON or multi-line: shown preformatted
    folded: bool


def context_entries(context: dict[str, Any]) -> list[Shown]:
    entries = []
    for key, value in context.items():
        text = value if isinstance(value, str) else pretty(value)
        block = not isinstance(value, str | int | float | bool) or "\n" in text
        entries.append(Shown(str(key), text, block, folds(text)))
    return entries


@dataclass(frozen=True, slots=True)
class DiffLine:
    kind: str  # "add", "del", "hunk" or "same"
    text: str


def diff(original: str, edited: str) -> list[DiffLine]:
    """A unified diff of an edit, line by line, for the page to colour and mark."""
    lines = difflib.unified_diff(
        original.splitlines(), edited.splitlines(), "original", "edited", lineterm="", n=2
    )
    out = []
    for line in list(lines)[2:]:
        kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "same")
        out.append(DiffLine(kind, line))
    return out


def field_id(name: str) -> str:
    """An HTML id for an input name: distinct names give distinct ids."""
    return "f-" + _NOT_ID.sub(lambda m: f"_{ord(m.group()):x}_", name)
