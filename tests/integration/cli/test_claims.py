"""``hitl claim`` / ``hitl release`` in both modes against the real servers: the claim shown by
``show`` and ``pending``, someone else's claim or answer refused with exit 8 naming the holder
and the expiry, a release by someone else exit 6, by the holder or an admin done."""

import re
import time
import uuid

import orjson
from redis.asyncio import Redis

from hitl.adapters.redis.apikeys import RedisApiKeys
from hitl.adapters.redis.keys import Keys
from hitl.core.apikeys import mint
from hitl.sdk import HitlClient
from hitl.settings import Settings
from hitl_contract import Identity
from tests.integration.cli.conftest import Asker, Cli

HELD = r"claimed by alice until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


async def env_of(
    cli: Cli, settings: Settings, redis: Redis, who: str, *scopes: str, groups: tuple[str, ...] = ()
) -> dict[str, str]:
    """The shell of ``who``: their login name straight on the servers, their key through the
    gateway (with ``scopes`` and ``groups``)."""
    if cli.mode == "direct":
        return cli.env | {"LOGNAME": who, "USER": who}
    identity = Identity(id=who, groups=list(groups))
    token, record = mint(identity, scopes or ("read", "respond"), time.time())
    await RedisApiKeys(redis, Keys(settings.namespace, settings.shards)).add(record)
    return cli.env | {"HITL_GATEWAY_KEY": token}


async def test_a_claim_is_shown_refuses_others_and_is_released(
    cli: Cli, ask: Asker, client: HitlClient, settings: Settings, redis: Redis
) -> None:
    request = await ask(thread_id="t-claim")
    iid = str(request.id)

    taken = await cli("claim", "t-claim", "--ttl", "120")
    assert taken.code == 0, taken.err
    assert re.fullmatch(rf"{HELD} \({iid}\)\n", taken.out), taken.out
    shown = await cli("show", iid)
    assert re.search(rf"claim +{HELD} \(in \S+\)", shown.out), shown.out
    listed = await cli("pending", "--thread", "t-claim")
    assert re.search(rf"pending \({HELD}\)", listed.out), listed.out
    as_json = orjson.loads((await cli("claim", iid, "--json")).out)  # renewed: one's own
    assert as_json["claim"]["holder"]["id"] == "alice"

    bob = await env_of(cli, settings, redis, "bob")
    other = await cli("claim", iid, env=bob)
    assert other.code == 8, other.err
    [line] = other.err.splitlines()
    assert line.startswith("hitl: claimed by alice until "), line
    answer = await cli("resume", iid, "approve", env=bob)
    assert answer.code == 8 and "claimed by alice until" in answer.err, answer.err
    not_his = await cli("release", iid, env=bob)
    assert not_his.code == 6, not_his.err
    assert "only the holder" in not_his.err

    released = await cli("release", iid)
    assert released.code == 0, released.err
    assert released.out == f"released: nobody holds {iid}\n"
    after = (await cli("show", iid)).out
    assert not re.search(r"^ *claim +claimed by", after, re.M), after
    assert re.search(r" released +alice ", after), after  # in the history
    again = await cli("release", iid)  # nothing held: nothing changes
    assert again.code == 0
    assert (await cli("claim", iid, env=bob)).code == 0
    assert (await cli("resume", iid, "approve", env=bob)).code == 0
    assert (await client.wait(request.id, timeout=10)).decided_by.identity == Identity(id="bob")
    decided = await cli("claim", iid)
    assert decided.code == 3 and "already resolved" in decided.err


async def test_an_admin_releases_anyones_claim(
    cli: Cli, ask: Asker, settings: Settings, redis: Redis
) -> None:
    iid = str((await ask()).id)
    assert (await cli("claim", iid)).code == 0
    bob = await env_of(cli, settings, redis, "bob", "read", "respond", "admin")
    admin = ("release", iid, "--admin") if cli.mode == "direct" else ("release", iid)
    released = await cli(*admin, env=bob)
    assert released.code == 0, released.err
    assert orjson.loads((await cli("show", iid, "--json")).out)["claim"] is None
    if cli.mode == "gateway":
        flag = await cli("release", iid, "--admin", env=bob)
        assert flag.code == 2 and "straight on the servers only" in flag.err


async def test_team_claims_and_bad_claims(
    cli: Cli, ask: Asker, settings: Settings, redis: Redis
) -> None:
    iid = str((await ask()).id)
    if cli.mode == "gateway":  # the key's identity is in no team
        outsider = await cli("claim", iid, "--team", "ops")
        assert outsider.code == 6 and "not a member of ops" in outsider.err, outsider.err
    carol = await env_of(cli, settings, redis, "carol", groups=("ops",))
    team = await cli("claim", iid, "--team", "ops", env=carol)
    assert team.code == 0, team.err
    assert "claimed by carol for team ops until" in team.out
    assert (await cli("resume", iid, "approve")).code == 8  # alice is not in ops
    if cli.mode == "gateway":  # a member of the team answers under its claim
        dave = await env_of(cli, settings, redis, "dave", groups=("ops",))
        assert (await cli("resume", iid, "approve", env=dave)).code == 0

    other = str((await ask()).id)
    too_long = await cli("claim", other, "--ttl", "90000")
    assert too_long.code == 4, too_long.err
    assert "at ttl_seconds" in too_long.err and "at most" in too_long.err
    beyond = await cli("claim", other, "--ttl", str(10**7))
    assert beyond.code == 2
    unknown = await cli("claim", str(uuid.uuid4()))
    assert unknown.code == 5, unknown.err
