"""``hitl pending`` and ``hitl show ID``: what waits for people, and one interaction with its
history, through the gateway or straight from Redis. Times are ISO 8601 in UTC; ``--json``
prints what the REST API gives (``InteractionPage``, ``InteractionDetail``)."""

import sys

import click

from hitl.cli import targets
from hitl.cli.backends.port import Listing
from hitl.cli.common import JSON_HELP, backend, examples, print_json, run
from hitl.cli.errors import Unknown, Usage
from hitl.cli.render import claim_text, duration, table
from hitl.cli.showing import render_detail
from hitl.core.listing import STATUSES
from hitl.gateway.models import InteractionDetail, InteractionPage
from hitl_contract import KIND_NAMES


def register(app: click.Group) -> None:
    app.add_command(pending)
    app.add_command(show)


@click.command(
    help="List interactions waiting for a person (oldest first), a page at a time; the cursor "
    "of the next page is printed on stderr (in the JSON with --json).",
    epilog=examples(
        "hitl pending",
        "hitl pending --kind approval --label env=production --sort newest --limit 10",
        "hitl pending --mine                   what I may answer",
        "hitl pending --cursor eyJ2IjoxLC...   the next page, same filters",
        "hitl pending --json | jq '.items[].id'",
    ),
)
@click.option("--kind", type=click.Choice(KIND_NAMES), help="Only this kind.")
@click.option("--thread", help="Only this thread.")
@click.option(
    "--label",
    multiple=True,
    metavar="KEY=VALUE",
    help="Only with this label (repeat: all must match).",
)
@click.option("--requester", help="Only from this requester id.")
@click.option("--node", help="Only from this node.")
@click.option(
    "--mine",
    is_flag=True,
    help="Only what I may answer (the gateway key's identity and groups; straight on the "
    "servers: --as or $USER).",
)
@click.option("--as", "who", help="Who 'me' is, straight on the servers.")
@click.option(
    "--status",
    type=click.Choice(STATUSES),
    default="pending",
    show_default=True,
    help="Finished ones too: resolved, cancelled, timed_out.",
)
@click.option(
    "--sort",
    type=click.Choice(["oldest", "newest"]),
    default="oldest",
    show_default=True,
    help="By request time.",
)
@click.option(
    "--limit",
    type=click.IntRange(1, 200),
    default=50,
    show_default=True,
    help="At most this many (a page).",
)
@click.option("--cursor", help="Continue from the cursor a previous page printed.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def pending(
    ctx: click.Context,
    /,
    kind: str | None,
    thread: str | None,
    label: tuple[str, ...],
    requester: str | None,
    node: str | None,
    mine: bool,
    who: str | None,
    status: str,
    sort: str,
    limit: int,
    cursor: str | None,
    as_json: bool,
) -> None:
    listing = Listing(
        status=status,
        kind=kind,
        thread_id=thread,
        requester=requester,
        node=node,
        labels=_labels(label),
        mine=mine,
        newest_first=sort == "newest",
        limit=limit,
        cursor=cursor,
    )
    found: list[InteractionPage] = []

    async def read() -> int:
        async with backend(ctx, who) as b:
            found.append(await b.page(listing))
        return 0

    run(read())
    page = found[0]
    if as_json:
        print_json(page, indent=False)
        return
    _print_page(page, status)


def _print_page(page: InteractionPage, status: str) -> None:
    if not page.items:
        print("no pending interactions" if status == "pending" else f"no {status} interactions")
    else:
        rows = [
            (
                str(i.id),
                i.kind,
                f"{i.status} ({claim_text(i.claim)})" if i.claim else i.status,
                i.thread_id,
                duration(i.time_waiting_seconds),
                duration(i.time_left_seconds) if i.time_left_seconds is not None else "-",
                " ".join(i.prompt.split())[:60],
            )
            for i in page.items
        ]
        table(("ID", "KIND", "STATUS", "THREAD", "WAITING", "TIME LEFT", "PROMPT"), rows)
    if page.next_cursor:
        print(f"more: add --cursor {page.next_cursor}", file=sys.stderr)


def _labels(pairs: tuple[str, ...]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise Usage(f"--label {pair!r} is not KEY=VALUE (e.g. env=production)")
        labels[key] = value
    return labels


@click.command(
    help="Show one interaction: request, status, timers, votes, outcome and history (ISO "
    "times, and how long after the request each step came).",
    epilog=examples(
        "hitl show 0b6e2c1a-4f0e-4c7e-9d2b-6a1f3e5d7c9b", "hitl show thread_12345 --json"
    ),
)
@click.argument("target", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def show(ctx: click.Context, /, target: str, as_json: bool) -> None:
    found: list[InteractionDetail] = []

    async def read() -> int:
        async with backend(ctx) as b:
            iid = targets.as_id(target)
            if iid is None:
                iid = await targets.resolve(b, target)
            detail = await b.detail(iid)
            if detail is None:
                raise Unknown(await targets.unknown(b, target))
            found.append(detail)
        return 0

    run(read())
    if as_json:
        print_json(found[0])
    else:
        render_detail(found[0])
