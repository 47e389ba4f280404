"""``hitl login`` / ``hitl logout``: keep the gateway's URL and an API key in the user's config
directory (0600), so a person's commands go through the gateway with no broker credentials."""

import getpass
import os
import sys

import click

from hitl.cli import credentials
from hitl.cli.backends.http import GatewayBackend
from hitl.cli.backends.port import Listing
from hitl.cli.common import examples, out, run
from hitl.cli.errors import Usage


def register(app: click.Group) -> None:
    app.add_command(login)
    app.add_command(logout)


@click.command(
    help="Check an API key against the gateway and store both (readable by you only) in your "
    "config directory; people's commands then use the gateway. The key is read from --key, "
    "HITL_GATEWAY_KEY, a hidden prompt at a terminal, or the first line of stdin.",
    epilog=examples(
        "hitl login --url https://hitl.example.com",
        "hitl keys create --identity alice@example.com --scope read --scope respond | "
        "hitl login --url http://127.0.0.1:8080",
    ),
)
@click.option("--url", help="The gateway's base URL (default: HITL_GATEWAY_URL).")
@click.option("--key", help="The API key (better: from stdin or the prompt, out of shell history).")
def login(url: str | None, key: str | None) -> None:
    base = (url or os.environ.get("HITL_GATEWAY_URL", "")).strip().rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise Usage(f"--url must be the gateway's http(s) URL, got {base!r}")
    token = (key or os.environ.get("HITL_GATEWAY_KEY", "") or _read_key()).strip()
    if not token:
        raise Usage("no API key given (--key, HITL_GATEWAY_KEY, or on stdin)")

    async def check() -> int:
        async with GatewayBackend(base, token, source="--url") as gateway:
            await gateway.page(Listing(limit=1))
        return 0

    run(check())
    where = credentials.save(credentials.Credentials(url=base, key=token))
    out.print(f"logged in to {base}; stored in {where} (mode 0600)", markup=False)


def _read_key() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("API key: ")
    return sys.stdin.readline()


@click.command(
    help="Forget the stored gateway and key; commands then use HITL_GATEWAY_URL or go "
    "straight to RabbitMQ and Redis.",
    epilog=examples("hitl logout"),
)
def logout() -> None:
    if credentials.forget():
        out.print(f"forgot the gateway stored in {credentials.path()}", markup=False)
    else:
        out.print("not logged in", markup=False)
