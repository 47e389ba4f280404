"""``hitl pending`` and ``hitl show ID``: read interaction state (and its history) straight
from Redis. Times are ISO 8601 in UTC."""

import argparse
import sys
import time
from datetime import UTC, datetime
from uuid import UUID

import orjson

from hitl.core.machine import InteractionState
from hitl.runtime.stores import open_reads
from hitl.settings import Settings


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("pending", help="list interactions waiting for a person")
    p.add_argument("--limit", type=int, default=100, help="at most this many (oldest first)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(handler=pending)
    s = sub.add_parser("show", help="show one interaction: request, status, outcome")
    s.add_argument("id", type=UUID, help="interaction id")
    s.set_defaults(handler=show)


async def pending(args: argparse.Namespace, settings: Settings) -> int:
    async with open_reads(settings) as store:
        states = await store.pending(args.limit)
    if args.json:
        for state in states:
            sys.stdout.write(orjson.dumps(_summary(state)).decode() + "\n")
        return 0
    if not states:
        print("no pending interactions")
        return 0
    now = time.time()
    rows = [("ID", "KIND", "THREAD", "AGE", "DEADLINE", "PROMPT")]
    for st in states:
        r = st.request
        deadline = _duration(st.deadline - now) if st.deadline else "-"
        rows.append(
            (
                str(r.id),
                r.kind,
                r.thread_id[:24],
                _duration(now - st.requested_at),
                deadline,
                r.prompt.replace("\n", " ")[:50],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1]
        )
    return 0


async def show(args: argparse.Namespace, settings: Settings) -> int:
    async with open_reads(settings) as store:
        state = await store.load(args.id)
        history = await store.history(args.id)
    if state is None:
        print(
            f"hitl: no interaction {args.id} (never asked, expired, or another namespace)",
            file=sys.stderr,
        )
        return 1
    detail = {
        **_summary(state),
        "timers": {name: _iso(at) for name, at in state.timers.items()},
        "votes": [v.model_dump(mode="json") for v in state.votes],
        "request": state.request.model_dump(mode="json"),
        "outcome": state.outcome.model_dump(mode="json") if state.outcome else None,
        "history": [h.model_dump(mode="json", exclude_none=True) for h in history],
    }
    sys.stdout.write(orjson.dumps(detail, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


def _summary(state: InteractionState) -> dict[str, object]:
    r = state.request
    return {
        "id": str(r.id),
        "kind": r.kind,
        "status": state.status,
        "thread_id": r.thread_id,
        "prompt": r.prompt,
        "requested_at": _iso(state.requested_at),
        "deadline": _iso(state.deadline) if state.deadline else None,
        "actions": list(r.allowed_actions()),
    }


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"
