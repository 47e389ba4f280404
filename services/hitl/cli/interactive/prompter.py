"""Asking a person at a terminal: arrow-key choices (prompt-toolkit), typed lines with a
default, and $EDITOR. The flows (``flows.py``) see only the ``Prompter`` protocol."""

import asyncio
from collections.abc import Sequence
from typing import Protocol

import click
from prompt_toolkit import PromptSession
from prompt_toolkit.shortcuts.choice_input import ChoiceInput

from hitl.cli.common import out

OTHER = "Other (type my own)"


class Prompter(Protocol):
    async def select(
        self, message: str, options: Sequence[str], *, other: bool = False
    ) -> int | str:
        """The index of the option picked, or the text typed after picking "Other"."""
        ...

    async def text(self, message: str, *, default: str = "") -> str:
        """A line; empty input gives ``default``."""
        ...

    async def edit(self, content: str) -> str:
        """``content`` as the person left it in their editor."""
        ...

    def say(self, message: str) -> None:
        """Tell the person something (an error to fix, a step)."""
        ...


class TerminalPrompter:
    def __init__(self) -> None:
        self._session: PromptSession[str] = PromptSession()

    async def select(
        self, message: str, options: Sequence[str], *, other: bool = False
    ) -> int | str:
        labels = [*options, OTHER] if other else list(options)
        picked: int = await ChoiceInput(
            message=f"{message}  (arrow keys, Enter)",
            options=[(i, label) for i, label in enumerate(labels)],
            default=0,
        ).prompt_async()
        if other and picked == len(options):
            while not (typed := (await self.text("Your answer: ")).strip()):
                self.say("an answer is needed (or Ctrl-C to stop)")
            return typed
        return picked

    async def text(self, message: str, *, default: str = "") -> str:
        shown = f"{message.rstrip(': ')} [{default}]: " if default else message
        answer = await self._session.prompt_async(shown)
        return answer if answer.strip() else default

    async def edit(self, content: str) -> str:
        edited = await asyncio.to_thread(click.edit, content, require_save=False)
        return content if edited is None else edited

    def say(self, message: str) -> None:
        out.print(message, markup=False)
