"""``hitl keys create|list|revoke``: the gateway's API keys, kept hashed in Redis.

Exit codes: 0 done, 1 no such key (revoke) or a server error, 2 bad arguments.
"""

import argparse
import contextlib
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import orjson

from hitl.adapters.redis.apikeys import RedisApiKeys
from hitl.adapters.redis.keys import Keys
from hitl.core.apikeys import SCOPES, ApiKey, mint
from hitl.runtime.startup import connect_redis
from hitl.settings import Settings
from hitl_contract import Identity


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("keys", help="create, list and revoke the gateway's API keys")
    actions = p.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    c = actions.add_parser(
        "create",
        help="create a key; it is printed once",
        description="Create an API key bound to an identity. Example: "
        "hitl keys create --identity alice@example.com --group finance --scope read "
        "--scope respond",
    )
    c.add_argument("--identity", required=True, help="who answers with the key, e.g. an email")
    c.add_argument("--name", default="", help="what the key is for")
    c.add_argument("--display-name", default=None, help="the identity's display name")
    c.add_argument(
        "--group", action="append", default=[], help="a group of the identity (repeatable)"
    )
    c.add_argument(
        "--scope",
        action="append",
        choices=SCOPES,
        help="read, respond, request or admin (repeatable; default: read)",
    )
    c.add_argument("--channel", default="http", help="the channel its answers are recorded with")
    c.add_argument("--json", action="store_true", help="print the key and its record as JSON")
    c.set_defaults(handler=create)
    ls = actions.add_parser("list", help="list the keys (never their secrets)")
    ls.add_argument("--json", action="store_true", help="one JSON object per line")
    ls.set_defaults(handler=list_keys)
    r = actions.add_parser("revoke", help="revoke a key by its id (hitl keys list shows it)")
    r.add_argument("key_id", help="the key's id: the part after 'hitl_' in the key")
    r.set_defaults(handler=revoke)


async def create(args: argparse.Namespace, settings: Settings) -> int:
    try:
        identity = Identity(id=args.identity, display_name=args.display_name, groups=args.group)
        token, record = mint(
            identity,
            tuple(args.scope or ["read"]),
            time.time(),
            name=args.name,
            channel=args.channel,
        )
    except ValueError as exc:
        print(f"hitl: invalid key: {exc}", file=sys.stderr)
        return 2
    async with _records(settings) as records:
        await records.add(record)
    if args.json:
        print(orjson.dumps({"key": token, **_public(record)}).decode())
    else:
        print(token)
        print(
            f"key {record.key_id} for {identity.id} ({', '.join(record.scopes)}); "
            "store it now: it is not shown again",
            file=sys.stderr,
        )
    return 0


async def list_keys(args: argparse.Namespace, settings: Settings) -> int:
    async with _records(settings) as records:
        found = await records.all()
    if args.json:
        for record in found:
            print(orjson.dumps(_public(record)).decode())
        return 0
    if not found:
        print("no API keys")
        return 0
    rows = [("KEY ID", "IDENTITY", "SCOPES", "GROUPS", "CREATED", "NAME")]
    rows += [
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
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1])
    return 0


async def revoke(args: argparse.Namespace, settings: Settings) -> int:
    async with _records(settings) as records:
        gone = await records.revoke(args.key_id)
    if not gone:
        print(f"hitl: no API key {args.key_id!r}; `hitl keys list` shows them", file=sys.stderr)
        return 1
    print(
        f"revoked {args.key_id}; every gateway refuses it within "
        f"{settings.gateway_key_cache_seconds:g}s"
    )
    return 0


def _public(record: ApiKey) -> dict[str, object]:
    return record.model_dump(mode="json", exclude={"secret_sha256"})


@contextlib.asynccontextmanager
async def _records(settings: Settings) -> AsyncIterator[RedisApiKeys]:
    """The key records of ``settings.namespace``, on a short-lived Redis connection."""
    redis = await connect_redis(settings.redis_url, settings.startup_attempts)
    try:
        yield RedisApiKeys(redis, Keys(settings.namespace, settings.shards))
    finally:
        await redis.aclose()
