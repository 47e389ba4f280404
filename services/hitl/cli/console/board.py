"""What the console shows, as plain data: the requests that arrived, numbered in order of
arrival, which still wait and which were settled (and how). No I/O: the screen asks the board
and prints what it says."""

from dataclasses import dataclass, field
from enum import StrEnum
from uuid import UUID

from hitl_contract import InteractionOutcome, InteractionRequest, Notification, NotifyReason


class Arrival(StrEnum):
    NEW = "new"
    AGAIN = "again"  # a reminder or an escalation of one already shown
    SAME = "same"  # shown already (a redelivery, or recalled at start-up)
    LATE = "late"  # settled already: nothing to show


@dataclass
class Item:
    number: int
    receiver: str
    notification: Notification
    outcome: InteractionOutcome | None = None

    @property
    def request(self) -> InteractionRequest:
        return self.notification.request

    @property
    def id(self) -> UUID:
        return self.notification.interaction_id

    @property
    def waiting(self) -> bool:
        return self.outcome is None


@dataclass
class Board:
    """``keep_settled``: how many settled requests it remembers (to say how they were settled
    when asked for); older ones are forgotten, so a console that runs for weeks stays small."""

    keep_settled: int = 500
    items: dict[UUID, Item] = field(default_factory=dict)
    _numbered: int = field(default=0, init=False)

    def arrive(self, receiver: str, notification: Notification) -> tuple[Arrival, Item]:
        item = self.items.get(notification.interaction_id)
        if item is None:
            self._numbered += 1
            item = Item(self._numbered, receiver, notification)
            self.items[item.id] = item
            return Arrival.NEW, item
        if not item.waiting:
            return Arrival.LATE, item
        if notification.reason == NotifyReason.REQUESTED:
            return Arrival.SAME, item
        item.notification = notification
        return Arrival.AGAIN, item

    def settle(self, outcome: InteractionOutcome) -> Item | None:
        """The item ``outcome`` settles, if the board shows it and it was waiting."""
        item = self.items.get(outcome.interaction_id)
        if item is None or not item.waiting:
            return None
        item.outcome = outcome
        settled = [i for i in self.items.values() if not i.waiting]
        for old in settled[: max(0, len(settled) - self.keep_settled)]:
            del self.items[old.id]
        return item

    def waiting(self) -> list[Item]:
        return [i for i in self.items.values() if i.waiting]

    def find(self, text: str) -> Item | str:
        """The item ``text`` names (its number, or its id or the start of it), else why not."""
        text = text.strip().lstrip("#")
        if text.isdigit():
            by_number = [i for i in self.items.values() if i.number == int(text)]
            if by_number:
                return by_number[0]
            return f"no request #{text} here; {self._numbers()}"
        found = [i for i in self.items.values() if str(i.id).startswith(text.lower())]
        if len(found) == 1:
            return found[0]
        if not found or len(text) < 4:
            return f"{text!r} is not a number or id shown here; {self._numbers()}"
        return f"{text!r} starts {len(found)} ids: " + ", ".join(f"#{i.number}" for i in found)

    def _numbers(self) -> str:
        waiting = [f"#{i.number}" for i in self.waiting()]
        return f"waiting: {', '.join(waiting)}" if waiting else "nothing waits"
