"""What the broker does when Redis may have lost data: fence, report, reconcile.

``hitl.adapters.redis.integrity`` measures (each shard's transition sequence against this
broker's watermark; each connection's greeting of the Redis process). Here:

- **fence**: the greeting that first meets a new Redis process has fenced every shard in
  Redis itself (commit.lua refuses decisions there), so no broker answers, times out or
  escalates anything until the store is reconciled. The poller claims no timers while fenced,
  answers wait before they are applied, /readyz says why, ``hitl_store_fenced`` is 1.
- **report**: a watermark above what Redis came back with (at least that many committed
  transitions gone) is logged as an error, counted (``hitl_store_data_loss_total``), written
  to the namespace's integrity record (``hitl store status``) and published as a
  ``hitl.store-integrity`` message on the events exchange (routing key ``store.data_loss``).
- **reconcile**: the broker that fenced reads the store log (``adapters/amqp/store_log.py``)
  from the moment the restored data ends and puts back what was published: an interaction
  pending again whose outcome went out gets that same outcome (nothing is sent again); one
  gone gets made again from its logged request, finished if its outcome went out, else asked
  again; one gone whose request is older than the log is listed. Then the fence is lifted.
  If the log cannot be read the fence stays until ``hitl store ack``.
"""

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import asdict
from typing import Any
from uuid import UUID

import orjson
from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError

from hitl.adapters.redis.integrity import RESTART, Greeting, Loss, SequenceWatch
from hitl.adapters.redis.store import RedisStore
from hitl.broker.dispatch import settle_all
from hitl.core import integrity
from hitl.core.backoff import backoff_delay
from hitl.core.decoding import decode_request
from hitl.core.machine import InteractionState, open_interaction
from hitl.errors import HitlError
from hitl.observability.metrics import Metrics
from hitl.ports import Clock, Envelope, MessageSink
from hitl_contract import LifecycleEvents
from hitl_contract.wire import EVENT_TYPE, REQUEST_TYPE, Names

log = logging.getLogger(__name__)
INTEGRITY_TYPE = "hitl.store-integrity"
LOSS_KEY = "store.data_loss"
MARGIN_SECONDS = 300.0  # the log is read from this long before the restored data ends
_MARK_EVERY = 1.0
_RETRY_CAP = 30.0
_AT_ONCE = 64  # interactions reconciled at a time
_TAKE_OVER_AFTER = 15.0  # seconds without news from the reconciling broker
_ANY_SIZE = 1 << 31  # a logged request was accepted once: its size is not judged again
ReadLog = Callable[[float | None, Callable[[AbstractIncomingMessage], None]], Awaitable[int]]
AskAgain = Callable[[AbstractIncomingMessage], Awaitable[None]]


class StoreGuard:
    """The broker's side of store integrity; ``SequenceWatch``'s listener."""

    def __init__(
        self,
        store: RedisStore,
        watch: SequenceWatch,
        metrics: Metrics,
        sink: MessageSink,
        names: Names,
        clock: Clock,
        *,
        default_route: str,
    ) -> None:
        self._store = store
        self._watch = watch
        self._metrics = metrics
        self._sink = sink
        self._names = names
        self._clock = clock
        self._route = default_route
        self._who = f"{socket.gethostname()}:{id(self):x}"
        self._read_log: ReadLog | None = None
        self._ask_again: AskAgain | None = None
        self.fenced = False
        self.reason = ""
        self._open = asyncio.Event()
        self._open.set()
        self._reconciling: asyncio.Task[None] | None = None
        self._attempted = asyncio.Event()
        self._fenced_since: float | None = None  # when this broker first saw the fence
        self._next_mark = 0.0
        self._tasks: set[asyncio.Task[None]] = set()
        watch.listener = self

    def connect(self, read_log: ReadLog, ask_again: AskAgain) -> None:
        """The store log's reader and the request handler (set once the broker is built)."""
        self._read_log, self._ask_again = read_log, ask_again

    # --- what the watch tells ------------------------------------------------------------

    def greeted(self, greeting: Greeting) -> None:
        self._set_fenced(greeting.fenced, RESTART if greeting.fenced else "")
        for loss in greeting.losses:
            self._lost(loss)
        if greeting.new_process:
            empty = all(s.n == 0 and s.since is None for s in greeting.shards)
            log.log(
                logging.INFO if empty and not greeting.losses else logging.WARNING,
                "Redis is a new process (run_id %s, was %s)%s: decisions wait until the store "
                "is reconciled with the store log",
                greeting.run_id,
                greeting.previous_run_id or "unknown to this broker",
                ", with nothing of this namespace" if empty else "",
            )
            self._reconcile(greeting.since, greeting.losses)
        elif greeting.losses:  # another broker fenced first and reconciles; we report ours
            self._spawn(self._announce(greeting.losses))

    def went_back(self, loss: Loss) -> None:
        self._lost(loss)
        self._set_fenced(True, "a shard's sequence went back")
        self._spawn(self._fence_and_reconcile(loss))

    # --- what the broker asks ------------------------------------------------------------

    async def start(self) -> None:
        """Greet Redis (the first script does) and, when this broker fenced the store,
        reconcile before consuming anything."""
        await self.tick(self._clock())
        if self._reconciling is not None:  # its first try: a failed one keeps trying
            await self._attempted.wait()

    async def tick(self, now: float) -> bool:
        """The poller's hook, each tick: mark the shards alive (once a second) and say whether
        timers may fire (False while the store is fenced)."""
        if now >= self._next_mark:
            fenced = await self._store.mark_alive(now)
            self._next_mark = now + _MARK_EVERY
            if not fenced and self.fenced:
                log.info("the store is no longer fenced")
            self._set_fenced(fenced > 0, self.reason or "fenced by another broker or an operator")
            if fenced:
                await self._reconcile_if_nobody_does()
        return not self.fenced

    async def _reconcile_if_nobody_does(self) -> None:
        """A reconciling broker refreshes the integrity record every second; one whose record
        went quiet (it died, or was stopped, half-way) is replaced by whoever sees it first."""
        running = self._reconciling is not None and not self._reconciling.done()
        record = self._store.keys.integrity()
        now = time.time()
        if running:
            await self._store.redis.hset(record, items=["at", repr(now), "by", self._who])
            return
        state, at = await self._store.redis.hmget(record, ["state", "at"])
        if self._fenced_since is None:
            self._fenced_since = now
        quiet = now - max(float(at or 0), self._fenced_since) > _TAKE_OVER_AFTER
        if state == b"again" or quiet:
            log.warning("the store is fenced and nobody reconciles it: this broker does")
            since = _since(await self._watch.shards())
            self._reconcile(since, ())

    async def wait_open(self) -> None:
        """Until the store is not fenced (answers wait here, before they are applied)."""
        await self._open.wait()

    def problem(self) -> str | None:
        """For /readyz."""
        return f"store fenced: {self.reason}" if self.fenced else None

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    # --- inside --------------------------------------------------------------------------

    def _set_fenced(self, fenced: bool, reason: str) -> None:
        self.fenced = fenced
        self.reason = reason if fenced else ""
        if not fenced:
            self._fenced_since = None
        if fenced:
            self._open.clear()
        else:
            self._open.set()
        self._metrics.store_fenced.set(1 if fenced else 0)

    def _lost(self, loss: Loss) -> None:
        self._metrics.store_data_loss.labels("transitions").inc(loss.transitions)
        log.error(
            "DATA LOSS in Redis: shard %d came back at transition %d, this broker saw %d "
            "committed (%s, run_id %s): at least %d committed transitions are gone",
            loss.shard,
            loss.found,
            loss.seen,
            loss.how,
            loss.run_id,
            loss.transitions,
        )

    def _spawn(self, work: Awaitable[None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _reconcile(self, since: float | None, losses: tuple[Loss, ...]) -> None:
        if self._reconciling is not None and not self._reconciling.done():
            return
        self._reconciling = self._spawn(self._run_reconciliation(since, losses))

    async def _fence_and_reconcile(self, loss: Loss) -> None:
        try:
            await self._watch.fence(f"shard {loss.shard}'s sequence went back", loss.run_id)
        except HitlError:
            log.exception("could not fence the store after a loss; decisions go on")
        self._reconcile(None, (loss,))

    async def _run_reconciliation(self, since: float | None, losses: tuple[Loss, ...]) -> None:
        try:
            await self._reconcile_until_done(since, losses)
        except HitlError:  # Redis gone again: the fence stays, a tick takes it over
            log.exception("store reconciliation stopped; the store stays fenced")
            self._next_mark = 0.0
        finally:
            self._attempted.set()

    async def _reconcile_until_done(self, since: float | None, losses: tuple[Loss, ...]) -> None:
        """Reconcile, trying again with backoff while it fails (Redis still starting, the log
        unreadable) and the store is still fenced (``hitl store ack`` ends the tries)."""
        run_id = self._watch.run_id or ""
        report = integrity.Report(run_id, since, losses=[asdict(loss) for loss in losses])
        await self._record("reconciling", report)
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                await self._reconcile_from_log(report)
                report.seconds = time.monotonic() - started
                break
            except (HitlError, OSError) as exc:
                attempt += 1
                delay = backoff_delay(attempt, base=1.0, cap=_RETRY_CAP)
                log.exception(
                    "store reconciliation failed (try %d); the store stays fenced, trying "
                    "again in %.1fs (or lift it: hitl store ack)",
                    attempt,
                    delay,
                )
                self.reason = f"reconciliation failed ({exc}); see hitl store status"
                if attempt == 1:
                    await self._record("fenced", report)
                    await self._announce(losses, report)
                    self._attempted.set()
                await asyncio.sleep(delay)
                if not await self._still_fenced():
                    log.warning("the store fence was lifted (hitl store ack): not reconciling")
                    return
        self._next_mark = 0.0
        if not await self._watch.fence("", run_id):
            log.warning("Redis changed while the store was reconciled: reconciling again")
            await self._record("again", report)  # the next tick takes it over at once
            return
        self._set_fenced(False, "")
        await self._record("ok", report)
        if report.lost_anything:
            await self._announce(losses, report)
        else:
            log.info(
                "store reconciled with the store log (%d messages, %.2fs): nothing lost",
                report.read,
                report.seconds,
            )

    async def _still_fenced(self) -> bool:
        with contextlib.suppress(HitlError):
            return any("fence" in shard for shard in await self._watch.shards())
        return True

    async def _reconcile_from_log(self, report: integrity.Report) -> None:
        if self._read_log is None or self._ask_again is None:
            raise HitlError("no store log to reconcile with")
        logged, requests = await self._read(report)
        known = sorted(set(logged.finals) | logged.requested)
        stored: dict[UUID, InteractionState | None] = {}

        async def load(iid: UUID) -> None:
            stored[iid] = await self._store.load(iid)

        await _each(known, load)
        todo = integrity.plan(logged, stored)
        now = self._clock()

        async def finish(iid: UUID) -> None:
            state = stored[iid]
            assert state is not None
            transition = integrity.restored(state, logged.finals[iid])
            await self._store.commit(transition, state.version, [], now, despite_fence=True)
            self._found(report, integrity.OUTCOME_RESTORED, iid)

        async def remake(iid: UUID) -> None:
            request = decode_request(requests[iid].body, _ANY_SIZE)
            final = logged.finals[iid]
            assert final.outcome is not None
            opened = open_interaction(request, final.outcome.requested_at.timestamp(), self._route)
            await self._store.create(integrity.restored(opened.state, final), [])
            self._found(report, integrity.STATE_RESTORED, iid)

        async def ask_again(iid: UUID) -> None:
            assert self._ask_again is not None
            await self._ask_again(requests[iid])
            self._found(report, integrity.REQUEST_RECREATED, iid)

        await _each(todo.finish, finish)
        await _each(todo.remake, remake)
        await _each(todo.ask_again, ask_again)
        for what, ids in (
            (integrity.STATE_LOST, todo.lost),
            (integrity.SECOND_OUTCOME, todo.second),
        ):
            for iid in ids:
                self._found(report, what, iid)
        report.complete = True

    def _found(self, report: integrity.Report, what: str, iid: UUID) -> None:
        """Counted once, even when a try that failed half-way had done it already."""
        if report.add(what, iid):
            self._metrics.store_data_loss.labels(what).inc()

    async def _read(
        self, report: integrity.Report
    ) -> tuple[integrity.Logged, dict[UUID, AbstractIncomingMessage]]:
        """The final events and requests of the store log from before the restored data ends."""
        assert self._read_log is not None
        logged = integrity.Logged()
        requests: dict[UUID, AbstractIncomingMessage] = {}

        def take(message: AbstractIncomingMessage) -> None:
            if message.type == EVENT_TYPE:
                with contextlib.suppress(ValidationError, ValueError):
                    for event in LifecycleEvents.model_validate_json(message.body).events:
                        logged.final(event)
            elif message.type == REQUEST_TYPE:
                with contextlib.suppress(ValueError):
                    iid = UUID(str(orjson.loads(message.body)["id"]))
                    requests.setdefault(iid, message)
                    logged.requested.add(iid)

        since = None if report.since is None else report.since - MARGIN_SECONDS
        report.read = await self._read_log(since, take)
        return logged, requests

    async def _record(self, state: str, report: integrity.Report) -> None:
        fields: list[str | bytes] = [
            *("state", state, "run", report.run_id, "at", repr(time.time())),
            *("by", self._who, "report", report.to_json()),
        ]
        try:
            await self._store.redis.hset(self._store.keys.integrity(), items=fields)
        except Exception:  # the report is also logged and published
            log.exception("could not write the store integrity record")

    async def _announce(
        self, losses: tuple[Loss, ...], report: integrity.Report | None = None
    ) -> None:
        """Log and publish what was found (the event; nobody has to listen)."""
        report = report or integrity.Report(
            self._watch.run_id or "", None, losses=[asdict(loss) for loss in losses]
        )
        level = logging.ERROR if report.lost_anything else logging.WARNING
        log.log(
            level,
            "store integrity: %s%s; ids: %s",
            report.summary(),
            f" (reconciled in {report.seconds:.2f}s, {report.read} log messages read)"
            if report.complete
            else " (not reconciled: the store stays fenced)",
            {k: v[:20] for k, v in report.found.items() if v},
        )
        body = report.to_json()
        envelope = Envelope(
            self._names.events,
            LOSS_KEY,
            body,
            INTEGRITY_TYPE,
            f"store-integrity:{report.run_id}:{self._who}:{len(body)}",
        )
        try:
            await self._sink.publish(envelope, mandatory=False)
        except Exception:  # logged and recorded already
            log.exception("could not publish the store integrity event")


def _since(shards: list[dict[str, str]]) -> float | None:
    """Where the restored data ends, from what the shards came back with (``epoch.lua``)."""
    marks = [shard.get("since") for shard in shards]
    return None if not all(marks) else min(float(m) for m in marks if m)


async def _each(ids: Sequence[UUID], work: Callable[[UUID], Coroutine[Any, Any, None]]) -> None:
    """``work`` on every id, ``_AT_ONCE`` at a time (their Redis scripts share batches); the
    first failure is raised once all of a group are done."""
    for start in range(0, len(ids), _AT_ONCE):
        await settle_all([work(iid) for iid in ids[start : start + _AT_ONCE]])
