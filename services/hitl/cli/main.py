"""``hitl``: the one console command. Each subcommand lives in its own module and registers
itself on the click group; ``main`` runs it and turns every failure into one line on stderr and
a documented exit code (``hitl.cli.errors.Exit``), never a traceback."""

import importlib.metadata
import sys
from collections.abc import Sequence

import click

from hitl.cli import (
    access_cmd,
    bench_cmd,
    broker_cmd,
    claim_cmd,
    completion_cmd,
    console_cmd,
    demo_cmd,
    gateway_cmd,
    inspect_cmd,
    keys_cmd,
    langgraph_cmd,
    login_cmd,
    notifier_cmd,
    respond_cmd,
    routes_cmd,
    schemas_cmd,
    stats_cmd,
    store_cmd,
    watch_cmd,
)
from hitl.cli.common import Options, err, examples
from hitl.cli.errors import EXIT_MEANINGS, CliError, Exit, Unreachable
from hitl.errors import HitlError, TransportError

MODULES = (
    respond_cmd,
    claim_cmd,
    inspect_cmd,
    watch_cmd,
    stats_cmd,
    login_cmd,
    keys_cmd,
    broker_cmd,
    gateway_cmd,
    notifier_cmd,
    langgraph_cmd,
    console_cmd,
    demo_cmd,
    routes_cmd,
    store_cmd,
    schemas_cmd,
    access_cmd,
    bench_cmd,
    completion_cmd,
)
EPILOG = (
    examples(
        "hitl pending",
        "hitl resume thread_12345 approve",
        "hitl respond 0b6e2c1a-4f0e-4c7e-9d2b-6a1f3e5d7c9b     (interactive)",
        "hitl demo --auto --with-broker",
    )
    + "\n\n\b\nExit codes:\n"
    + "\n".join(f"  {code.value:>3}  {meaning}" for code, meaning in EXIT_MEANINGS.items())
)


class Commands(click.Group):
    """Lists its commands in the order they were added (people's first), not alphabetically."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


def version() -> str:
    return f"hitl {importlib.metadata.version('hitl')}"


@click.group(
    cls=Commands,
    help="Human-in-the-loop interaction broker over RabbitMQ and Redis, and the commands to "
    "answer, inspect and run it. Settings come from HITL_* environment variables and the TOML "
    "file in HITL_CONFIG. People's commands (resume, respond, cancel, pending, show, watch, "
    "stats) talk to the gateway when HITL_GATEWAY_URL (with HITL_GATEWAY_KEY) is set or "
    "`hitl login` stored one, else straight to RabbitMQ and Redis.",
    epilog=EPILOG,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(
    importlib.metadata.version("hitl"),
    "--version",
    prog_name="hitl",
    message="%(prog)s %(version)s",
)
@click.option(
    "--direct",
    is_flag=True,
    help="Talk straight to RabbitMQ and Redis (HITL_AMQP_URL, HITL_REDIS_URL) even when "
    "HITL_GATEWAY_URL is set or `hitl login` stored a gateway.",
)
@click.pass_context
def cli(ctx: click.Context, /, direct: bool) -> None:
    ctx.obj = Options(direct=direct)


for _module in MODULES:
    _module.register(cli)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        result = cli.main(
            args=list(argv) if argv is not None else None, prog_name="hitl", standalone_mode=False
        )
    except click.exceptions.UsageError as exc:
        exc.show()
        raise SystemExit(Exit.USAGE) from None
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        print("hitl: interrupted", file=sys.stderr)
        return Exit.INTERRUPTED
    except CliError as exc:
        return _fail(str(exc), exc.exit_code)
    except TransportError as exc:
        return _fail(str(exc), Unreachable.exit_code)
    except HitlError as exc:
        return _fail(str(exc), Exit.FAILED)
    return result if isinstance(result, int) else Exit.OK


def _fail(message: str, code: int) -> int:
    for line in message.splitlines() or [""]:
        err.print(f"hitl: {line}", markup=False)
    return code


if __name__ == "__main__":
    sys.exit(main())
