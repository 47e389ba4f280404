"""Delivery records: one history entry per attempt and per what followed (delivered, failed,
fell back, undelivered, updated), appended to the interaction's history by the notifier
through the store's ``note`` (the broker stays the one writer of state; the history is an
append-only log both write to)."""

from typing import Any

import orjson

from hitl_contract import HistoryEvent


def delivery_entry(
    event: HistoryEvent,
    receiver: str,
    channel: str,
    at: float,
    *,
    attempt: int | None = None,
    latency: float | None = None,
    reference: str | None = None,
    detail: str | None = None,
) -> bytes:
    entry: dict[str, Any] = {
        "at": at,
        "event": event.value,
        "version": 0,
        "receiver": receiver,
        "channel": channel,
    }
    if attempt is not None:
        entry["attempt"] = attempt
    if latency is not None:
        entry["latency_ms"] = round(latency * 1000, 3)
    if reference is not None:
        entry["reference"] = reference
    if detail is not None:
        entry["detail"] = detail[:1000]
    return orjson.dumps(entry)
