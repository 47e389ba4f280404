"""How the commands print for people: tables (rich on a terminal, plain aligned columns in a
pipe, so nothing is cut to a width), times as ISO 8601 in UTC, durations as 1.5h / 42s, and the
receipt of an answer."""

from collections.abc import Sequence
from datetime import UTC, datetime

from rich.table import Table

from hitl.cli.common import out
from hitl.core.decisions import claim_holder_text
from hitl.gateway.models import AnswerResult
from hitl_contract import Claim, InteractionOutcome, ReceiptResult


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    if out.is_terminal:
        t = Table(box=None, pad_edge=False, header_style="bold")
        for column in header:
            t.add_column(column, overflow="fold")
        for row in rows:
            t.add_row(*row)
        out.print(t)
        return
    every = [list(header), *map(list, rows)]
    widths = [max(len(r[i]) for r in every) for i in range(len(header))]
    for r in every:
        line = "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        out.print(line, markup=False, highlight=False)


def iso(at: datetime | float | None) -> str:
    if at is None:
        return "-"
    if not isinstance(at, datetime):
        at = datetime.fromtimestamp(at, UTC)
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.3g}s" if seconds < 10 else f"{seconds:.0f}s"


def decided(outcome: InteractionOutcome) -> str:
    """``resolved (reject) by person carol via cli at 2025-...Z``."""
    who = outcome.decided_by
    name = who.identity.id if who.identity else who.policy or ""
    via = f" via {who.channel}" if who.channel else ""
    by = f"{who.type} {name}".rstrip()
    return f"{outcome.status} ({outcome.action}) by {by}{via} at {iso(outcome.resolved_at)}"


def receipt(result: AnswerResult) -> str:
    """What became of an answer, for people (the exit code says it too)."""
    if result.result == ReceiptResult.ACCEPTED and result.outcome is not None:
        return f"accepted: {decided(result.outcome)}"
    if result.result == ReceiptResult.RECORDED:
        return "recorded: your vote counts; the decision waits for more answers"
    if result.result == ReceiptResult.HELD:
        return (
            f"held: no interaction {result.interaction_id} yet; the broker keeps the answer "
            "until its request arrives (HITL_EARLY_ANSWER_HOLD_SECONDS)"
        )
    return str(result.result)


def already(outcome: InteractionOutcome) -> str:
    return f"already resolved: {decided(outcome)}"


def claim_text(claim: Claim) -> str:
    """``claimed by alice until 2025-...Z`` (``alice for team ops``, a team's claim)."""
    return f"claimed by {claim_holder_text(claim)} until {iso(claim.until)}"
