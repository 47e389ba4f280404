"""API keys: minted once, stored hashed, checked in constant time, cached for a bounded time."""

import pytest

from hitl.adapters.memory import ManualClock, MemoryApiKeys
from hitl.core.apikeys import mint, opens, parse
from hitl.gateway.deps import Scope
from hitl.gateway.keys import CachedApiKeys
from hitl_contract import Identity

ALICE = Identity(id="alice@example.com", groups=["finance"])


def test_a_key_names_its_record_and_keeps_no_secret() -> None:
    token, record = mint(ALICE, ("read", "respond"), 100.0, name="laptop")
    presented = parse(token)
    assert presented is not None
    assert presented.key_id == record.key_id
    assert token.startswith(f"hitl_{record.key_id}_")
    assert presented.secret not in record.model_dump_json()
    assert opens(record, presented.secret)
    assert not opens(record, presented.secret[:-1] + ("A" if presented.secret[-1] != "A" else "B"))


def test_keys_are_unique() -> None:
    tokens = {mint(ALICE, ("read",), 0.0)[0] for _ in range(200)}
    assert len(tokens) == 200


@pytest.mark.parametrize(
    "token", ["", "hitl_", "hitl_abc_def", "bearer", "hitl_0123456789ab_" + "x" * 42, "x" * 5000]
)
def test_what_is_not_shaped_like_a_key_is_not_one(token: str) -> None:
    assert parse(token) is None


def test_unknown_scopes_are_refused() -> None:
    with pytest.raises(ValueError, match="scopes"):
        mint(ALICE, ("write",), 0.0)
    with pytest.raises(ValueError, match="scopes"):
        mint(ALICE, (), 0.0)


async def test_authenticate_gives_the_keys_principal() -> None:
    records = MemoryApiKeys()
    token, record = mint(ALICE, ("respond",), 0.0, channel="slack")
    await records.add(record)
    keys = CachedApiKeys(records, cache_seconds=5)
    who = await keys.authenticate(token)
    assert who is not None
    assert (who.key_id, who.identity, who.channel) == (record.key_id, ALICE, "slack")
    assert who.scopes == frozenset({Scope.RESPOND})
    assert await keys.authenticate(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert await keys.authenticate("hitl_000000000000_" + token.rsplit("_", 1)[1]) is None


async def test_a_revoked_key_stops_working_once_the_cache_expires() -> None:
    records = MemoryApiKeys()
    token, record = mint(ALICE, ("read",), 0.0)
    await records.add(record)
    clock = ManualClock(0.0)
    keys = CachedApiKeys(records, cache_seconds=5, clock=clock)
    assert await keys.authenticate(token) is not None
    assert await records.revoke(record.key_id)
    clock.advance(4.9)
    assert await keys.authenticate(token) is not None  # within the documented bound
    clock.advance(0.2)
    assert await keys.authenticate(token) is None


async def test_ids_are_not_reused() -> None:
    records = MemoryApiKeys()
    _, record = mint(ALICE, ("read",), 0.0)
    await records.add(record)
    with pytest.raises(ValueError, match="exists"):
        await records.add(record)
    assert [r.key_id for r in await records.all()] == [record.key_id]
