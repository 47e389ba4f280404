"""``hitl``: the one console command. Subcommands live in their own modules."""

import argparse
import asyncio
import importlib.metadata
import sys
from collections.abc import Coroutine, Sequence
from typing import Any

from pydantic import ValidationError

from hitl.cli import (
    bench_cmd,
    broker_cmd,
    demo_cmd,
    gateway_cmd,
    inspect_cmd,
    keys_cmd,
    notifier_cmd,
    respond_cmd,
    routes_cmd,
    schemas_cmd,
    stats_cmd,
)
from hitl.errors import ConfigError, HitlError
from hitl.settings import Settings

_COMMANDS = (
    broker_cmd,
    gateway_cmd,
    notifier_cmd,
    inspect_cmd,
    stats_cmd,
    respond_cmd,
    keys_cmd,
    demo_cmd,
    schemas_cmd,
    routes_cmd,
    bench_cmd,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hitl",
        description="Human-in-the-loop interaction broker over RabbitMQ and Redis. "
        "Settings come from HITL_* environment variables and the TOML file in HITL_CONFIG.",
    )
    parser.add_argument(
        "--version", action="version", version=f"hitl {importlib.metadata.version('hitl')}"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = None
    if getattr(args, "needs_settings", True):  # ``hitl schemas`` works whatever HITL_* says
        try:
            settings = Settings()
        except (ValidationError, ConfigError) as exc:
            print(f"hitl: invalid settings:\n{exc}", file=sys.stderr)
            return 2
    try:
        return run(args.handler(args, settings))
    except HitlError as exc:
        print(f"hitl: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def run(coro: Coroutine[Any, Any, int]) -> int:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


if __name__ == "__main__":
    sys.exit(main())
