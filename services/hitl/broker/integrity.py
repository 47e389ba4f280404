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
- **reconcile** (``broker/reconcile.py``): the broker that fenced reads the store log
  (``adapters/amqp/store_log.py``) from the moment the restored data ends and puts back what
  was published: an interaction pending again whose outcome went out gets that same outcome
  (nothing is sent again); one gone gets made again from its logged request, finished if its
  outcome went out, else asked again; one gone whose request is older than the log is
  listed. Then the fence is lifted. If the log cannot be read the fence stays (retried)
  until ``hitl store ack``; a reconciliation whose broker went quiet is taken over.
"""

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Awaitable
from dataclasses import asdict

from hitl.adapters.redis.integrity import RESTART, Greeting, Loss, SequenceWatch
from hitl.adapters.redis.store import RedisStore
from hitl.broker.reconcile import AskAgain, ReadLog, Reconciler
from hitl.core import integrity
from hitl.core.backoff import backoff_delay
from hitl.errors import HitlError
from hitl.observability.metrics import Metrics
from hitl.ports import Clock, Envelope, MessageSink
from hitl_contract.wire import Names

log = logging.getLogger(__name__)
INTEGRITY_TYPE = "hitl.store-integrity"
LOSS_KEY = "store.data_loss"
_MARK_EVERY = 1.0
_RETRY_CAP = 30.0
_TAKE_OVER_AFTER = 15.0  # seconds without news from the reconciling broker


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
        self._reconciler: Reconciler | None = None
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
        self._reconciler = Reconciler(
            self._store, self._metrics, self._clock, self._route, read_log, ask_again
        )

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
        reconciler = self._reconciler
        if reconciler is None:
            raise HitlError("no store log to reconcile with")
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                await reconciler.run(report)
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
