"""``hitl keys create|list|revoke``: the gateway's API keys, kept hashed in Redis."""

import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import click
import orjson

from hitl.adapters.redis.apikeys import RedisApiKeys
from hitl.adapters.redis.keys import Keys
from hitl.cli import connect
from hitl.cli.common import JSON_HELP, err, examples, out, run
from hitl.cli.config import load_settings
from hitl.cli.errors import Unknown, Usage
from hitl.cli.render import table
from hitl.core.apikeys import SCOPES, ApiKey, mint
from hitl.settings import Settings
from hitl_contract import Identity


def register(app: click.Group) -> None:
    app.add_command(keys)


@click.group(
    help="Create, list and revoke the gateway's API keys (straight on Redis: HITL_REDIS_URL).",
    epilog=examples("hitl keys create --identity alice@example.com --scope read --scope respond"),
)
def keys() -> None:
    pass


@keys.command(
    help="Create an API key bound to an identity; the key is printed once, on stdout.",
    epilog=examples(
        "hitl keys create --identity alice@example.com --group finance --scope read "
        "--scope respond",
        "export HITL_GATEWAY_KEY=$(hitl keys create --identity alice@example.com "
        "--scope read --scope respond)",
    ),
)
@click.option("--identity", required=True, help="Who answers with the key, e.g. an email.")
@click.option("--name", default="", help="What the key is for.")
@click.option("--display-name", help="The identity's display name.")
@click.option("--group", multiple=True, help="A group of the identity (repeatable).")
@click.option(
    "--scope",
    multiple=True,
    type=click.Choice(SCOPES),
    help="read, respond, request or admin (repeatable; default: read).",
)
@click.option(
    "--channel",
    default="http",
    show_default=True,
    help="The channel its answers are recorded with.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the key and its record as JSON.")
def create(
    identity: str,
    name: str,
    display_name: str | None,
    group: tuple[str, ...],
    scope: tuple[str, ...],
    channel: str,
    as_json: bool,
) -> None:
    try:
        who = Identity(id=identity, display_name=display_name, groups=list(group))
        token, record = mint(who, scope or ("read",), time.time(), name=name, channel=channel)
    except ValueError as exc:
        raise Usage(f"invalid key: {exc}") from exc
    settings = load_settings(startup_attempts=1)

    async def store() -> int:
        async with _records(settings) as records:
            await records.add(record)
        return 0

    run(store())
    if as_json:
        print(orjson.dumps({"key": token, **_public(record)}).decode())
        return
    print(token)
    err.print(
        f"key {record.key_id} for {who.id} ({', '.join(record.scopes)}); "
        "store it now: it is not shown again",
        markup=False,
    )


@keys.command(
    "list", help="List the keys (never their secrets).", epilog=examples("hitl keys list --json")
)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP + " One object per line.")
def list_keys(as_json: bool) -> None:
    settings = load_settings(startup_attempts=1)
    found: list[ApiKey] = []

    async def read() -> int:
        async with _records(settings) as records:
            found.extend(await records.all())
        return 0

    run(read())
    if as_json:
        for record in found:
            print(orjson.dumps(_public(record)).decode())
        return
    if not found:
        out.print("no API keys")
        return
    rows = [
        (
            r.key_id,
            r.identity.id,
            ",".join(r.scopes),
            ",".join(r.identity.groups) or "-",
            datetime.fromtimestamp(r.created_at, UTC).strftime("%Y-%m-%d %H:%M"),
            r.name,
        )
        for r in found
    ]
    table(("KEY ID", "IDENTITY", "SCOPES", "GROUPS", "CREATED", "NAME"), rows)


@keys.command(
    help="Revoke a key by its id (`hitl keys list` shows it). Exit 5: no such key.",
    epilog=examples("hitl keys revoke 3f9c0a1b2c3d"),
)
@click.argument("key_id")
def revoke(key_id: str) -> None:
    settings = load_settings(startup_attempts=1)

    async def delete() -> int:
        async with _records(settings) as records:
            return 0 if await records.revoke(key_id) else 1

    if run(delete()):
        raise Unknown(f"no API key {key_id!r}; `hitl keys list` shows them")
    out.print(
        f"revoked {key_id}; every gateway refuses it within "
        f"{settings.gateway_key_cache_seconds:g}s",
        markup=False,
    )


def _public(record: ApiKey) -> dict[str, object]:
    return record.model_dump(mode="json", exclude={"secret_sha256"})


@contextlib.asynccontextmanager
async def _records(settings: Settings) -> AsyncIterator[RedisApiKeys]:
    """The key records of ``settings.namespace``, on a short-lived Redis connection."""
    async with connect.redis(settings) as redis:
        yield RedisApiKeys(redis, Keys(settings.namespace, settings.shards))
