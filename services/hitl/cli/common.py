"""What the commands share: running a coroutine, the consoles, JSON output, ``--data``, and the
backend a person's command talks to (the gateway, or RabbitMQ and Redis)."""

import asyncio
import contextlib
import getpass
import json
import os
import sys
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click
import orjson
from pydantic import BaseModel
from rich.console import Console

from hitl.cli import credentials
from hitl.cli.backends.port import Backend
from hitl.cli.config import load_settings
from hitl.cli.errors import Usage
from hitl_contract import Identity, JsonObject

if TYPE_CHECKING:
    from hitl.cli.backends.direct import DirectBackend
    from hitl.cli.backends.http import GatewayBackend

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


@dataclass
class Options:
    """The root command's options (``hitl --direct ...``), for the subcommands."""

    direct: bool = False


def run(coro: Coroutine[Any, Any, int]) -> int:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def finish(code: int) -> None:
    """End a command with ``code`` (the value ``hitl.cli.main.main`` returns)."""
    if code:
        raise click.exceptions.Exit(code)


def print_json(value: BaseModel | Any, *, indent: bool = True) -> None:
    data = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
    option = orjson.OPT_INDENT_2 if indent else 0
    sys.stdout.write(orjson.dumps(data, option=option).decode() + "\n")


def parse_data(text: str, option: str = "--data") -> JsonObject:
    """``--data`` as a JSON object; a ``Usage`` error saying where the JSON breaks."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        line = text.splitlines()[exc.lineno - 1] if text.strip() else text
        near = line[max(0, exc.colno - 21) : exc.colno + 20]
        raise Usage(
            f"{option} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno} "
            f"(near {near!r})"
        ) from exc
    if not isinstance(data, dict):
        raise Usage(f"{option} must be a JSON object ({{...}}), not {type(data).__name__}")
    return data


def identity(who: str | None) -> Identity:
    """The person answering straight on the servers: ``--as``, or the login name."""
    return Identity(id=who or getpass.getuser())


def options(ctx: click.Context) -> Options:
    root = ctx.find_root().obj
    return root if isinstance(root, Options) else Options()


@contextlib.asynccontextmanager
async def backend(
    ctx: click.Context, who: str | None = None, receipt_timeout: float = 10.0, channel: str = "cli"
) -> AsyncIterator[Backend]:
    """The gateway when HITL_GATEWAY_URL is set or ``hitl login`` stored one (unless
    ``--direct``), else RabbitMQ and Redis from the HITL_* settings (answers sent from
    ``channel``; through the gateway, the channel is the gateway's)."""
    chosen = choose(options(ctx).direct, who, receipt_timeout, channel)
    async with chosen as b:
        yield b


def choose(
    direct: bool, who: str | None, receipt_timeout: float, channel: str = "cli"
) -> "DirectBackend | GatewayBackend":
    # Imported when a command needs one: `hitl --help` and the services start without them.
    from hitl.cli.backends.direct import DirectBackend
    from hitl.cli.backends.http import GatewayBackend

    if not direct:
        url = os.environ.get("HITL_GATEWAY_URL", "").strip()
        key = os.environ.get("HITL_GATEWAY_KEY", "").strip()
        stored = credentials.load()
        if url and not key and stored is not None and stored.url == url.rstrip("/"):
            key = stored.key
        if url:
            if not key:
                raise Usage(
                    "HITL_GATEWAY_URL is set but HITL_GATEWAY_KEY is not: set it to an API key "
                    "(`hitl keys create`), or run `hitl login`"
                )
            _no_as(who)
            return GatewayBackend(url, key)
        if stored is not None:
            _no_as(who)
            return GatewayBackend(stored.url, stored.key, source=f"{credentials.path()}")
    settings = load_settings(startup_attempts=1)
    return DirectBackend(settings, identity(who), receipt_timeout, channel=channel)


def _no_as(who: str | None) -> None:
    if who is not None:
        raise Usage(
            "--as works straight on the servers only; through the gateway you answer as the "
            "API key's identity (use --direct to answer on RabbitMQ and Redis)"
        )


def examples(*lines: str, notes: str = "") -> str:
    """A command's help epilog: its examples, kept as written (click's ``\\b``), then notes."""
    block = "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)
    return block + (f"\n\n{notes}" if notes else "")


JSON_HELP = "Machine-readable JSON only."
