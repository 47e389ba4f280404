"""``hitl watch``: lifecycle events as they happen (requested, notified, responded, resolved,
...), filtered, one line each (or one JSON object each), until Ctrl-C or ``--count``."""

import sys
from uuid import UUID

import click

from hitl.cli.backends.port import EventFilter
from hitl.cli.common import backend, err, examples, out, run
from hitl.cli.render import decided, iso
from hitl_contract import KIND_NAMES, LifecycleEvent, LifecycleEventName
from hitl_contract.wire import encode_model


def register(app: click.Group) -> None:
    app.add_command(watch)


@click.command(
    help="Follow lifecycle events live: one line per event (or JSON lines with --json), until "
    "Ctrl-C or --count events. The line 'watching ...' on stderr says the subscription is in "
    "place.",
    epilog=examples(
        "hitl watch",
        "hitl watch --event resolved --event timed_out --kind approval",
        "hitl watch --thread thread_12345 --json",
        "hitl watch --id 0b6e2c1a-4f0e-4c7e-9d2b-6a1f3e5d7c9b --count 3",
    ),
)
@click.option(
    "--event",
    multiple=True,
    type=click.Choice([e.value for e in LifecycleEventName]),
    help="Only these events (repeatable).",
)
@click.option("--kind", type=click.Choice(KIND_NAMES), help="Only this kind.")
@click.option("--thread", help="Only this thread.")
@click.option("--id", "interaction", type=click.UUID, help="Only this interaction.")
@click.option("--count", type=click.IntRange(min=1), help="Stop after this many events.")
@click.option("--json", "as_json", is_flag=True, help="One LifecycleEvent JSON per line.")
@click.pass_context
def watch(
    ctx: click.Context,
    /,
    event: tuple[str, ...],
    kind: str | None,
    thread: str | None,
    interaction: UUID | None,
    count: int | None,
    as_json: bool,
) -> None:
    wanted = EventFilter(frozenset(event), kind, thread, interaction)
    where: list[str] = []

    def ready() -> None:
        err.print(f"watching lifecycle events of {where[0]} (Ctrl-C to stop)", markup=False)

    async def follow() -> int:
        seen = 0
        async with backend(ctx) as b:
            where.append(b.where)
            async for e in b.events(wanted, ready):
                if as_json:
                    sys.stdout.write(encode_model(e).decode() + "\n")
                    sys.stdout.flush()
                else:
                    out.print(line(e), markup=False)
                seen += 1
                if count is not None and seen >= count:
                    break
        return 0

    run(follow())


def line(e: LifecycleEvent) -> str:
    """``2025-06-01T10:00:00Z  resolved  approval  0b6e...  thread demo-1  resolved ...``."""
    parts = [iso(e.at), e.event.value, e.kind or "-", str(e.interaction_id or "-")]
    if e.thread_id:
        parts.append(f"thread {e.thread_id}")
    if e.outcome is not None:
        parts.append(decided(e.outcome))
    if e.route:
        parts.append(f"route {e.route}")
    if e.error is not None:
        where = f" at {e.error.path}" if e.error.path else ""
        parts.append(f"refused{where}: {e.error.message}")
    return "  ".join(parts)
