"""What a transition writes besides its state: its history item, read index entries and
analytics counters, as the ``write_reads`` section of create.lua and commit.lua.

The choices (which terms, which counters, which entries) come from the pure core
(``indexing``, ``analytics``, ``audit``); this module turns them into key names and script
arguments. Every key shares the interaction's hash tag, so the script stays in one slot. The
section's keys follow the script's own KEYS in the order the script uses them (the indexes to
add to, those to remove from, the hour's counters, the pending counts), so the script reads
them by position and parses no key indexes:

    n_add, n_remove, history item or '', n_counters[, ttl, field...],
    n_pending[, '1' or '-1', field...], finished record or ''
"""

from typing import Any

import orjson

from hitl.adapters.redis.keys import Keys
from hitl.core import analytics, audit
from hitl.core.indexing import DIMENSIONS, RESPONDER, terms, waiting_for
from hitl.core.machine import PENDING, InteractionState, Transition

Section = tuple[list[str], list[Any]]  # (keys after the script's own, arguments)


class Filing:
    """Builds the section for create and commit, from one set of keys and retention."""

    def __init__(self, keys: Keys, analytics_retention_seconds: int) -> None:
        self._keys = keys
        self._counters_ttl = analytics_retention_seconds + analytics.HOUR

    def on_create(self, transition: Transition, shard: int) -> Section:
        state = transition.state
        history = audit.encode(transition) or b""
        counters = analytics.on_create(state)
        if state.is_pending:
            add = self._pending_keys(shard, state)
            return self._section(
                shard, add, [], history, counters, state.requested_at,
                analytics.pending_fields(state), "1", b"",
            )  # fmt: skip
        for name, by in analytics.on_commit(transition, state.requested_at).items():
            counters[name] = counters.get(name, 0) + by
        add = self._finished_keys(shard, state)
        return self._section(
            shard, add, [], history, counters, state.requested_at, [], "", _record(state)
        )

    def on_commit(self, transition: Transition, now: float, shard: int) -> Section:
        state = transition.state
        history = audit.encode(transition) or b""
        counters = analytics.on_commit(transition, now)
        if state.is_pending:
            return self._section(shard, [], [], history, counters, now, [], "", b"")
        return self._section(
            shard,
            self._finished_keys(shard, state),
            self._pending_keys(shard, state),
            history,
            counters,
            now,
            analytics.pending_fields(state),
            "-1",
            _record(state),
        )

    def filed_keys(self, shard: int, record: bytes | None) -> list[str]:
        """The index keys a finished interaction's record (``done_keys``) names, in any
        format this module ever wrote."""
        if not record:
            return []
        k = self._keys
        if record.startswith(b"{"):
            ((status, values),) = orjson.loads(record).items()
            return [k.by_status(shard, status)] + [
                k.by_term(shard, status, d, v) for d, v in zip(DIMENSIONS, values, strict=False)
            ]
        # Older records: each key without its prefix, as a JSON list or one per line (wrong
        # for values with a line break).
        prefix = k.by_prefix(shard)
        rest = orjson.loads(record) if record.startswith(b"[") else record.decode().split("\n")
        return [prefix + suffix for suffix in rest]

    def _pending_keys(self, shard: int, state: InteractionState) -> list[str]:
        """The term indexes a pending interaction is in (the pending set itself is the
        script's own key)."""
        k, request = self._keys, state.request
        out = [k.by_term(shard, PENDING, d, v) for d, v in terms(request)]
        out += [k.by_term(shard, PENDING, RESPONDER, who) for who in waiting_for(request)]
        return out

    def _finished_keys(self, shard: int, state: InteractionState) -> list[str]:
        """The status index and the status's term indexes of a finished interaction."""
        k, status = self._keys, state.status
        out = [k.by_status(shard, status)]
        out += [k.by_term(shard, status, d, v) for d, v in terms(state.request)]
        return out

    def _section(
        self,
        shard: int,
        add: list[str],
        remove: list[str],
        history: bytes,
        counters: dict[str, int],
        at: float,
        pending: list[str],
        direction: str,
        record: bytes,
    ) -> Section:
        keys = add + remove
        args: list[Any] = [len(add), len(remove), history]
        if counters:
            fields = [name for name, by in counters.items() for _ in range(by)]
            keys.append(self._keys.counters(shard, analytics.hour_of(at)))
            args += [len(fields), self._counters_ttl, *fields]
        else:
            args.append(0)
        if pending:
            keys.append(self._keys.pending_counts(shard))
            args += [len(pending), direction, *pending]
        else:
            args.append(0)
        args.append(record)
        return keys, args


def _record(state: InteractionState) -> bytes:
    """What trimming needs to find a finished interaction's index entries: its status and
    term values, in ``DIMENSIONS`` order (``Filing.filed_keys``): about half the bytes of
    the keys themselves."""
    filed = dict(terms(state.request))
    return orjson.dumps({state.status: [filed[d] for d in DIMENSIONS if d in filed]})
