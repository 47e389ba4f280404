"""The terminal channel: the operator console (``hitl console``) is the notifier of the routing
file's ``terminal`` receivers. "Sending" shows the request on the console's screen; the update
on decision tells the screen who decided, so the operator does not answer it (and an answer
being typed for it is abandoned, never sent).

The channel only hands notifications and outcomes to the ``Screen`` of the process it runs in
(``hitl.cli.console``); retries, delivery records, fallback and the updates on decision are the
framework's (``hitl.notifiers.service``), as for every channel. The reference of a delivery
names the console (host and process id), so a record says which console showed it.
"""

import os
import socket
from typing import Protocol

from hitl.core.routing.config import AnyReceiver, TerminalReceiver
from hitl.errors import Retryable
from hitl.notifiers.port import Sent
from hitl_contract import InteractionOutcome, Notification


class Screen(Protocol):
    """Where the console shows what the channel hands it."""

    @property
    def taking(self) -> bool:
        """Whether the console shows new requests (False while it closes)."""
        ...

    def show(self, receiver: str, notification: Notification) -> None: ...

    def settle(self, receiver: str, outcome: InteractionOutcome) -> None: ...


class TerminalChannel:
    """``hitl.notifiers.port.Channel`` for ``terminal`` receivers, shown on ``screen``."""

    type = "terminal"

    def __init__(self, screen: Screen, *, where: str | None = None) -> None:
        self._screen = screen
        self._where = where or f"console {socket.gethostname()}/{os.getpid()}"

    async def send(self, receiver: AnyReceiver, notification: Notification) -> Sent:
        terminal = _terminal(receiver)
        if not self._screen.taking:
            raise Retryable(f"the console serving {terminal.name} is closing")
        self._screen.show(terminal.name, notification)
        return Sent(reference=self._where, detail=f"shown on the {self._where}")

    async def update(self, receiver: AnyReceiver, sent: Sent, outcome: InteractionOutcome) -> None:
        self._screen.settle(_terminal(receiver).name, outcome)

    async def close(self) -> None:
        """The screen belongs to the console; nothing to close here."""


def _terminal(receiver: AnyReceiver) -> TerminalReceiver:
    if not isinstance(receiver, TerminalReceiver):
        raise TypeError(f"receiver {receiver.name} is a {receiver.type} receiver, not terminal")
    return receiver
