"""``hitl claim ID`` and ``hitl release ID``: take a pending interaction for a while (or for a
team) so that nobody else answers it meanwhile, and give it back. The broker decides
(docs/contract.md, "Claims"); a claim someone else holds is exit 8, naming them and the expiry."""

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

import click

from hitl.cli import targets
from hitl.cli.backends.port import Backend
from hitl.cli.common import backend, examples, out, print_json, run
from hitl.cli.errors import Unknown
from hitl.cli.render import claim_text
from hitl.gateway.models import ClaimResult
from hitl_contract.claims import MOST_CLAIM_SECONDS

EXIT_NOTE = (
    "Exit codes: 0 done, 2 bad usage, 3 already resolved, 4 refused (a ttl above the broker's "
    "bound), 5 unknown id, 6 not allowed, 7 a server did not answer, 8 claimed by someone else."
)
_AS = click.option(
    "--as",
    "who",
    help="As this identity (default: $USER); straight on the servers only: through the "
    "gateway you are the API key's identity.",
)
_TIMEOUT = click.option(
    "--timeout",
    type=float,
    default=10.0,
    show_default=True,
    help="Seconds to wait for the broker's receipt (straight on the servers).",
)
_JSON = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON only.")


def register(app: click.Group) -> None:
    app.add_command(claim)
    app.add_command(release)


@click.command(
    help="Claim a pending interaction: until the claim expires, only you (or, with --team, "
    "the team's members) may answer it; others see who holds it and until when. Claiming "
    "it again renews the claim.",
    epilog=examples(
        "hitl claim 0b6e2c1a-4f0e-4c7e-9d2b-6a1f3e5d7c9b",
        "hitl claim thread_12345 --ttl 3600",
        "hitl claim 0b6e2c1a-4f0e-4c7e-9d2b-6a1f3e5d7c9b --team ops   (one of your groups)",
        notes=EXIT_NOTE,
    ),
)
@click.argument("target", metavar="THREAD_OR_ID")
@click.option(
    "--ttl",
    type=click.IntRange(1, MOST_CLAIM_SECONDS),
    metavar="SECONDS",
    help="How long it holds (default and upper bound: the broker's HITL_CLAIM_TTL_SECONDS, "
    "HITL_CLAIM_MAX_TTL_SECONDS).",
)
@click.option(
    "--team",
    metavar="GROUP",
    help="Claim for this team: every member may answer. Through the gateway, one of the key's "
    "groups; straight on the servers, you speak for it as for --as.",
)
@_AS
@_TIMEOUT
@_JSON
@click.pass_context
def claim(
    ctx: click.Context, /, target: str, ttl: int | None, team: str | None, **options: Any
) -> None:
    async def send(b: Backend, iid: UUID) -> ClaimResult:
        return await b.claim(iid, ttl_seconds=ttl, team=team)

    _run(ctx, target, send, **options)


@click.command(
    help="Release the claim on an interaction: yours or your team's, or anyone's as an admin "
    "(an admin key through the gateway; --admin straight on the servers). Releasing what "
    "nobody holds changes nothing.",
    epilog=examples(
        "hitl release 0b6e2c1a-4f0e-4c7e-9d2b-6a1f3e5d7c9b",
        "hitl --direct release thread_12345 --admin",
        notes=EXIT_NOTE,
    ),
)
@click.argument("target", metavar="THREAD_OR_ID")
@click.option(
    "--admin",
    is_flag=True,
    help="Release someone else's claim, straight on the servers (the broker honours it from "
    "trusted services only, when HITL_TRUSTED_ANSWER_SERVICES is set).",
)
@_AS
@_TIMEOUT
@_JSON
@click.pass_context
def release(ctx: click.Context, /, target: str, admin: bool, **options: Any) -> None:
    async def send(b: Backend, iid: UUID) -> ClaimResult:
        return await b.release(iid, admin=admin)

    _run(ctx, target, send, **options)


def _run(
    ctx: click.Context,
    target: str,
    send: Callable[[Backend, UUID], Awaitable[ClaimResult]],
    *,
    who: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    found: list[ClaimResult] = []

    async def go() -> int:
        async with backend(ctx, who, timeout) as b:
            iid = await targets.resolve(b, target)
            try:
                found.append(await send(b, iid))
            except Unknown as exc:
                raise Unknown(await targets.unknown(b, target)) from exc
        return 0

    run(go())
    result = found[0]
    if as_json:
        print_json(result)
    elif result.claim is None:
        out.print(f"released: nobody holds {result.interaction_id}", markup=False)
    else:
        out.print(f"{claim_text(result.claim)} ({result.interaction_id})", markup=False)
