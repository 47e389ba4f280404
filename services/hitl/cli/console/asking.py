"""The console's prompter: the CLI's (``hitl.cli.interactive``), which also says whether it is
waiting for the operator right now. Only then may an answer in progress be abandoned when its
interaction is decided elsewhere: never while the answer is being sent, nor while the
operator's editor has the terminal (the check before sending catches those)."""

from collections.abc import Sequence

from hitl.cli.interactive.prompter import Prompter


class Interruptible:
    """A ``Prompter`` around ``inner`` that knows when it waits for the person."""

    def __init__(self, inner: Prompter) -> None:
        self._inner = inner
        self._asking = 0

    @property
    def asking(self) -> bool:
        return self._asking > 0

    async def select(
        self, message: str, options: Sequence[str], *, other: bool = False
    ) -> int | str:
        self._asking += 1
        try:
            return await self._inner.select(message, options, other=other)
        finally:
            self._asking -= 1

    async def text(self, message: str, *, default: str = "") -> str:
        self._asking += 1
        try:
            return await self._inner.text(message, default=default)
        finally:
            self._asking -= 1

    async def edit(self, content: str) -> str:
        return await self._inner.edit(content)  # the editor owns the terminal: not interrupted

    def say(self, message: str) -> None:
        self._inner.say(message)
