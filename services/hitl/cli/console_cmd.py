"""``hitl console``: the operator console, the terminal channel's notifier (docs/channels.md,
"Terminal console")."""

import click

from hitl.cli.common import backend, examples, finish, run
from hitl.cli.config import load_settings
from hitl.cli.errors import Usage


def register(app: click.Group) -> None:
    app.add_command(console)


@click.command(
    help="The operator console: the notifier of the routing file's terminal receivers "
    "(HITL_ROUTING_FILE). Shows each request as it arrives, with the panels of `hitl respond`; "
    "type its number to answer it in place. Requests decided elsewhere are marked settled, and "
    "an answer being typed for one is dropped, never sent. Answers go as `hitl respond` sends "
    "them (the gateway's key identity, or --as / $USER straight on the servers). q or Ctrl-D "
    "quits (exit 0), Ctrl-C too (exit 130); SIGTERM stops it (exit 0).",
    epilog=examples(
        "HITL_ROUTING_FILE=examples/routing.yaml hitl console",
        "hitl console --receiver ops-console --as alice@example.com",
    ),
)
@click.option(
    "--receiver",
    "-r",
    "receivers",
    multiple=True,
    metavar="NAME",
    help="Serve this terminal receiver of the routing file (repeatable); default: every one.",
)
@click.option(
    "--as",
    "who",
    help="Answer as this identity (default: $USER); straight on the servers only: through "
    "the gateway you are the API key's identity.",
)
@click.option(
    "--timeout",
    type=float,
    default=10.0,
    show_default=True,
    help="Seconds to wait for the broker's receipt (straight on the servers).",
)
@click.option(
    "--metrics-port",
    type=int,
    default=0,
    help="Serve /metrics and /readyz on this port (default: not served).",
)
@click.pass_context
def console(
    ctx: click.Context, /, receivers: tuple[str, ...], who: str | None, timeout: float,
    metrics_port: int,
) -> None:  # fmt: skip
    from hitl.cli.console.app import serve
    from hitl.cli.interactive.session import interactive_available

    if not interactive_available():
        raise Usage("hitl console is for a terminal: run it with stdin and stdout on one")
    # Tried once, as every command a person types: a server that does not answer is said at
    # once (exit 7), not retried behind a blank screen.
    settings = load_settings(metrics_port=metrics_port, startup_attempts=1)

    async def go() -> int:
        async with backend(ctx, who, timeout, channel="terminal") as b:
            return await serve(settings, b, receivers)

    finish(run(go()))
