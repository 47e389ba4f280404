"""``hitl store status|ack``: the store integrity check after Redis may have lost data
(``hitl.broker.integrity``): what the brokers found, and lifting a fence they could not."""

import getpass
import time
from datetime import UTC, datetime
from typing import Any

import click
import orjson

from hitl.adapters.redis.integrity import SequenceWatch
from hitl.adapters.redis.keys import Keys
from hitl.cli import connect
from hitl.cli.common import JSON_HELP, examples, finish, out, run
from hitl.cli.config import load_settings
from hitl.cli.errors import Exit
from hitl.settings import Settings


def register(app: click.Group) -> None:
    app.add_command(store)


@click.group(
    help="The store's integrity after Redis came back with less than it had (straight on "
    "Redis: HITL_REDIS_URL). Exit 1 from status: the store is fenced.",
    epilog=examples("hitl store status", "hitl store ack --reason 'restored by hand'"),
)
def store() -> None:
    pass


@store.command(
    help="The last integrity check (state, Redis run_id, what was lost and put back) and "
    "whether decisions are fenced. Exit 1 while fenced.",
    epilog=examples("hitl store status --json"),
)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def status(as_json: bool) -> None:
    settings = load_settings(startup_attempts=1)
    found: dict[str, Any] = {}

    async def read() -> int:
        found.update(await _status(settings))
        return 0

    run(read())
    if as_json:
        print(orjson.dumps(found).decode())
    else:
        record = found["record"]
        fenced = found["fenced_shards"]
        out.print(f"fenced shards: {len(fenced)} of {found['shards']}", markup=False)
        if fenced:
            out.print(f"  why: {found['why']}", markup=False)
        if record:
            at = datetime.fromtimestamp(float(record.get("at", 0)), UTC).isoformat()
            out.print(
                f"last check: {record.get('state')} at {at} by {record.get('by')} "
                f"(Redis run_id {record.get('run')})",
                markup=False,
            )
            report = record.get("report") or {}
            if isinstance(report, dict):
                counts = {k: v for k, v in report.get("counts", {}).items() if v}
                out.print(f"  found: {counts or 'nothing lost'}", markup=False)
                for loss in report.get("losses", []):
                    out.print(f"  loss: {loss}", markup=False)
                for what, ids in report.get("ids", {}).items():
                    out.print(f"  {what}: {' '.join(ids[:50])}", markup=False)
        else:
            out.print("no integrity check recorded yet", markup=False)
    finish(Exit.FAILED if found["fenced_shards"] else Exit.OK)


@store.command(
    help="Lift the fence the brokers keep after a possible loss they could not reconcile "
    "(the store log could not be read). Interactions whose published outcome was lost may "
    "then be decided again: reconcile by hand first (hitl store status lists what is known).",
    epilog=examples("hitl store ack --reason 'checked by hand, ticket OPS-123'"),
)
@click.option("--reason", required=True, help="Why; recorded with who and when.")
def ack(reason: str) -> None:
    settings = load_settings(startup_attempts=1)
    fenced = run(_ack(settings, reason))
    out.print(f"fence lifted on {fenced} fenced shards; brokers resume within a second")


async def _status(settings: Settings) -> dict[str, Any]:
    keys = Keys(settings.namespace, settings.shards)
    async with connect.redis(settings) as redis:
        shards = await SequenceWatch(redis, keys).shards()
        raw = await redis.hgetall(keys.integrity())
    record: dict[str, Any] = {_text(k): _text(v) for k, v in raw.items()}
    if "report" in record:
        record["report"] = orjson.loads(record["report"])
    fenced = [i for i, shard in enumerate(shards) if "fence" in shard]
    why = shards[fenced[0]]["fence"] if fenced else None
    return {
        "shards": len(shards),
        "fenced_shards": fenced,
        "why": why,
        "record": record,
        "sequences": shards,
    }


async def _ack(settings: Settings, reason: str) -> int:
    keys = Keys(settings.namespace, settings.shards)
    async with connect.redis(settings) as redis:
        watch = SequenceWatch(redis, keys)
        fenced = sum("fence" in shard for shard in await watch.shards())
        await watch.fence("")
        who = f"{getpass.getuser()} (hitl store ack: {reason})"
        await redis.hset(
            keys.integrity(), items=["state", "acknowledged", "at", repr(time.time()), "by", who]
        )
    return fenced


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
