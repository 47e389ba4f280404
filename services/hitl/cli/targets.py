"""Which interaction a person means: an id, or a thread (seed 001's ``resume thread_12345``)
whose pending interaction is the one to answer; and, for an id nobody knows, the pending ones
that may have been meant (a prefix, the same first characters, or a thread of that name)."""

from collections.abc import Awaitable, Callable, Sequence
from uuid import UUID

from hitl.cli.backends.port import Backend, Listing
from hitl.cli.errors import Unknown, Usage
from hitl.gateway.models import InteractionSummary

SCAN = 200  # pending interactions looked at for suggestions
Pick = Callable[[Sequence[InteractionSummary]], Awaitable[InteractionSummary]]


def as_id(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None


async def resolve(
    backend: Backend, given: str, chosen: UUID | None = None, pick: Pick | None = None
) -> UUID:
    """The interaction ``given`` names: an id as it is, or a thread's pending interaction. A
    thread with several asks ``pick`` (a person at a terminal) or wants ``--id``."""
    found = as_id(given)
    if found is not None:
        return found
    page = await backend.page(Listing(thread_id=given, limit=SCAN))
    items = page.items
    if chosen is not None:
        if any(i.id == chosen for i in items):
            return chosen
        raise Unknown(f"{chosen} is not pending in thread {given!r}{_listed(items)}")
    if not items:
        raise Unknown(await unknown(backend, given))
    if len(items) == 1:
        return items[0].id
    if pick is not None:
        return (await pick(items)).id
    raise Usage(
        f"thread {given!r} has {len(items)} pending interactions; name one with --id"
        f"{_listed(items)}"
    )


async def unknown(backend: Backend, given: str) -> str:
    """``no interaction X`` (or ``thread X has nothing pending``), with a "did you mean"."""
    pending = (await backend.page(Listing(limit=SCAN))).items
    meant = suggestions(given, pending)
    what = (
        f"no interaction {given}"
        if as_id(given)
        else f"no interaction or thread {given!r} is pending"
    )
    if not meant:
        return f"{what} (`hitl pending` lists what is)"
    return f"{what}; did you mean {' or '.join(meant)}?"


def suggestions(given: str, pending: Sequence[InteractionSummary], most: int = 3) -> list[str]:
    """Pending interactions ``given`` may have meant: ids it starts (or shares its first 8
    characters with), threads it names or starts."""
    text = given.strip().lower()
    found: list[str] = []
    for item in pending:
        iid = str(item.id)
        by_id = len(text) >= 4 and (
            iid.startswith(text) or (len(text) >= 8 and iid[:8] == text[:8])
        )
        thread = item.thread_id.lower()
        by_thread = text == thread or (len(text) >= 3 and thread.startswith(text))
        if by_id:
            found.append(f"{iid} ({item.kind}, thread {item.thread_id})")
        elif by_thread:
            found.append(f"thread {item.thread_id} ({item.kind} {iid})")
    return list(dict.fromkeys(found))[:most]


def _listed(items: Sequence[InteractionSummary]) -> str:
    shown = ", ".join(f"{i.id} ({i.kind}: {_short(i.prompt)})" for i in items[:5])
    more = f" and {len(items) - 5} more" if len(items) > 5 else ""
    return f": {shown}{more}" if items else ""


def _short(text: str, width: int = 40) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"
