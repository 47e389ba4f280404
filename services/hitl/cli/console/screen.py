"""The console's screen: what the operator sees and types. Requests arrive with the same panels
as ``hitl respond ID`` (``hitl.cli.interactive.panels``) and are answered with the same flows;
an answer goes to the broker through the person's backend (the gateway or the servers, as for
``hitl respond``), which judges it. Everything is printed above the prompt line
(prompt-toolkit's ``patch_stdout``), so arrivals and settlements never garble what is typed.

Implements ``hitl.notifiers.channels.terminal.Screen``: the terminal channel hands it what the
notifier framework delivers and the outcomes it updates on.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime
from enum import Enum
from typing import TypeVar

from prompt_toolkit import PromptSession

from hitl.cli.backends.port import Backend
from hitl.cli.common import out
from hitl.cli.console.asking import Interruptible
from hitl.cli.console.board import Arrival, Board, Item
from hitl.cli.errors import AlreadyDecided
from hitl.cli.interactive import flows, panels
from hitl.cli.interactive.prompter import Prompter, TerminalPrompter
from hitl.cli.interactive.session import DecidedMeanwhile, send_answer
from hitl.cli.render import already, duration, receipt
from hitl.errors import HitlError
from hitl.notifiers.email.render import settled_line
from hitl_contract import InteractionOutcome, Notification, ReceiptResult

HELP = (
    "type a request's number (or the start of its id) to answer it; "
    "l: list what waits; s N: show #N again; q or Ctrl-D: quit; Ctrl-C: quit "
    "(while answering: drop the answer)"
)
PROMPT = "console> "
log = logging.getLogger(__name__)
T = TypeVar("T")
S = TypeVar("S")


class Key(Enum):
    INTERRUPTED = "interrupted"  # Ctrl-C
    END = "end"  # Ctrl-D
    STOPPED = "stopped"  # SIGTERM


class ConsoleScreen:
    def __init__(
        self, backend: Backend, prompter: Callable[[], Prompter] = TerminalPrompter
    ) -> None:
        self.board = Board()
        self._backend = backend
        self._prompter = prompter
        self._taking = True
        self._session: PromptSession[str] | None = None  # made at the first prompt
        self._answering: tuple[Item, Interruptible, asyncio.Task[None]] | None = None
        self._held: list[Item] = []  # arrived while the operator was answering

    # --- what the terminal channel hands over --------------------------------------------

    @property
    def taking(self) -> bool:
        return self._taking

    def close(self) -> None:
        self._taking = False

    def show(self, receiver: str, notification: Notification) -> None:
        arrival, item = self.board.arrive(receiver, notification)
        if arrival == Arrival.AGAIN:
            _say(f"#{item.number} {notification.reason.value}: still waits ({_headline(item)})")
        if arrival != Arrival.NEW:
            return
        if self._answering is not None:
            _say(f"#{item.number} new {_headline(item)} (shown once you are done)")
            self._held.append(item)
            return
        self._draw(item, "new")

    def settle(self, receiver: str, outcome: InteractionOutcome) -> None:
        item = self.board.settle(outcome)
        if item is None:
            return
        _say(f"#{item.number} settled: {settled_line(outcome)}")
        if self._answering is not None:
            answering, prompter, task = self._answering
            if answering is item and prompter.asking:
                task.cancel()  # abandoned: handled where the answer is awaited

    # --- the operator's side --------------------------------------------------------------

    def recall(self, receiver: str, notification: Notification, since: datetime) -> None:
        """A request shown to ``receiver`` before this console started, still waiting."""
        arrival, item = self.board.arrive(receiver, notification)
        if arrival == Arrival.NEW:
            ago = duration((datetime.now(UTC) - since).total_seconds())
            self._draw(item, f"waiting for {ago}")

    async def run(self, stopping: asyncio.Event, receivers: Collection[str]) -> Key:
        _say(
            f"serving {', '.join(sorted(receivers))}; answers go to {self._backend.where}. "
            f"{len(self.board.waiting())} waiting. {HELP}"
        )
        while True:
            line = await self._read_line(stopping)
            if isinstance(line, Key):
                return line
            command, _, rest = line.strip().partition(" ")
            if command in ("q", "quit", "exit"):
                return Key.END
            if command in ("", "l", "list"):
                self._list()
            elif command in ("?", "h", "help"):
                _say(HELP)
            elif command in ("s", "show") and rest:
                found = self.board.find(rest)
                if isinstance(found, Item):
                    self._draw(found, "shown again")
                else:
                    _say(found)
            else:
                await self._answer(line, stopping)

    async def _read_line(self, stopping: asyncio.Event) -> str | Key:
        if self._session is None:
            self._session = PromptSession()
        session = self._session

        async def read() -> str | Key:
            try:
                return await session.prompt_async(PROMPT, handle_sigint=False)
            except KeyboardInterrupt:
                return Key.INTERRUPTED
            except EOFError:
                return Key.END

        return await _unless_stopped(read(), stopping, Key.STOPPED)

    async def _answer(self, text: str, stopping: asyncio.Event) -> None:
        found = self.board.find(text)
        if not isinstance(found, Item):
            _say(found)
            return
        if found.outcome is not None:
            _say(f"#{found.number} is settled: {settled_line(found.outcome)}")
            return
        prompter = Interruptible(self._prompter())
        task = asyncio.create_task(self._dialogue(found, prompter))
        self._answering = (found, prompter, task)
        waiter = asyncio.create_task(stopping.wait())
        try:
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            if not task.done():
                task.cancel()
            await asyncio.wait([task])
            self._answering = None
        if task.cancelled():
            why = "the console is stopping" if stopping.is_set() else "decided elsewhere"
            _say(f"#{found.number}: your answer was abandoned, nothing sent ({why})")
        else:
            task.result()  # a bug in the dialogue: raised, not hidden
        held, self._held = self._held, []
        for item in held:
            if item.waiting:
                self._draw(item, "new")

    async def _dialogue(self, item: Item, prompter: Prompter) -> None:
        n = item.number
        _say(f"answering #{n} ({item.id}); Ctrl-C drops the answer")
        panels.show(item.request)
        try:
            answer = await flows.ask(item.request, prompter)
            result = await send_answer(
                self._backend, item.id, item.request, answer, prompter, lambda: self._now(item)
            )
        except (KeyboardInterrupt, EOFError):
            _say(f"#{n}: nothing sent; it still waits")
        except DecidedMeanwhile as exc:
            _say(f"#{n} was decided meanwhile, nothing sent: {already(exc.outcome)}")
        except AlreadyDecided as exc:
            _say(f"#{n}: {already(exc.outcome)}; your answer changed nothing")
        except HitlError as exc:  # not allowed, unknown, a server that did not answer...
            _say(f"#{n}: not sent: {exc}")
        except Exception as exc:  # one answer that failed never ends the console
            log.warning("answering #%d failed", n, exc_info=True)
            _say(f"#{n}: not sent, it still waits: {exc!r}")
        else:
            _say(f"#{n} {receipt(result)}")
            if result.result == ReceiptResult.ACCEPTED and result.outcome is not None:
                self.board.settle(result.outcome)

    async def _now(self, item: Item) -> InteractionOutcome | None:
        """Decided elsewhere? What the console heard, else what hitl says now."""
        if item.outcome is not None:
            return item.outcome
        detail = await self._backend.detail(item.id)
        return None if detail is None else detail.outcome

    def _draw(self, item: Item, what: str) -> None:
        note = item.notification
        due = f"; times out {note.deadline.isoformat(timespec='seconds')}" if note.deadline else ""
        with out:  # written at once: the prompt is never drawn in the middle of a request
            out.rule(
                f"#{item.number} {what}: {item.request.kind} for {item.receiver}", align="left"
            )
            panels.show(item.request)
            _say(f"answer: type {item.number} (id {item.id}){due}")

    def _list(self) -> None:
        waiting = self.board.waiting()
        if not waiting:
            _say("nothing waits")
        for item in waiting:
            _say(f"#{item.number:<3} {_headline(item)}  ({item.id})")


def _headline(item: Item) -> str:
    request = item.request
    prompt = " ".join(request.prompt.split())
    return f"{request.kind} on {request.thread_id}: {prompt[:70]}"


def _say(text: str) -> None:
    out.print(text, markup=False, highlight=False)


async def _unless_stopped(work: Awaitable[T], stopping: asyncio.Event, stopped: S) -> T | S:
    """``work``'s result, or ``stopped`` when ``stopping`` is set first (``work`` cancelled)."""
    task = asyncio.ensure_future(work)
    waiter = asyncio.create_task(stopping.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return stopped
