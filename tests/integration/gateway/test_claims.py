"""Claims over HTTP against a real broker and gateway: POST and DELETE .../claim, the claim
shown on GET and in listings, answers by others refused 409 naming holder and expiry, release
by the holder or an admin key, 403 for anyone else."""

import httpx

from hitl.gateway.service import GatewayService
from hitl.sdk import HitlClient
from tests.integration.gateway.conftest import MakeKey, http_client
from tests.integration.gateway.test_api import PROBLEM, ask, stored


async def test_a_claim_is_shown_blocks_others_and_is_released_by_an_admin(
    alice: httpx.AsyncClient, client: HitlClient, gateway: GatewayService, make_key: MakeKey
) -> None:
    iid = await ask(client)
    await stored(alice, iid)
    taken = await alice.post(f"/v1/interactions/{iid}/claim", json={"ttl_seconds": 120})
    assert taken.status_code == 200, taken.text
    held = taken.json()["claim"]
    assert held["holder"]["id"] == "alice"
    detail = (await alice.get(f"/v1/interactions/{iid}")).json()
    assert detail["claim"]["holder"]["id"] == "alice" and detail["claim"]["until"] == held["until"]
    assert [h["event"] for h in detail["history"]][-1] == "claimed"
    listed = (await alice.get("/v1/interactions", params={"status": "pending"})).json()
    assert [i["claim"]["holder"]["id"] for i in listed["items"] if i["id"] == str(iid)] == ["alice"]
    async with http_client(gateway, await make_key("bob", "read", "respond")) as bob:
        answered = await bob.post(f"/v1/interactions/{iid}/responses", json={"action": "approve"})
        assert answered.status_code == 409, answered.text
        assert answered.headers["content-type"] == PROBLEM
        problem = answered.json()
        assert problem["code"] == "claimed" and problem["type"].endswith("/claimed")
        assert problem["claimed_by"]["id"] == "alice"
        assert problem["claimed_until"] == held["until"]
        assert "claimed by alice until" in problem["detail"]
        other = await bob.post(f"/v1/interactions/{iid}/claim")
        assert other.status_code == 409 and other.json()["claimed_by"]["id"] == "alice"
        refused = await bob.delete(f"/v1/interactions/{iid}/claim")
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "not_allowed"
    async with http_client(gateway, await make_key("root", "admin")) as root:
        released = await root.delete(f"/v1/interactions/{iid}/claim")
        assert released.status_code == 200, released.text
        assert released.json() == {"interaction_id": str(iid), "claim": None}
    assert (await alice.get(f"/v1/interactions/{iid}")).json()["claim"] is None


async def test_the_holder_answers_renews_and_releases(
    alice: httpx.AsyncClient, client: HitlClient
) -> None:
    iid = await ask(client)
    await stored(alice, iid)
    first = (await alice.post(f"/v1/interactions/{iid}/claim", json={"ttl_seconds": 60})).json()
    renewed = await alice.post(f"/v1/interactions/{iid}/claim", json={"ttl_seconds": 600})
    assert renewed.status_code == 200
    assert renewed.json()["claim"]["until"] > first["claim"]["until"]
    assert (await alice.delete(f"/v1/interactions/{iid}/claim")).json()["claim"] is None
    await alice.post(f"/v1/interactions/{iid}/claim")
    answered = await alice.post(f"/v1/interactions/{iid}/responses", json={"action": "approve"})
    assert answered.status_code == 200, answered.text
    assert (await client.wait(iid, timeout=10)).action == "approve"


async def test_bad_claims_say_what_is_wrong(alice: httpx.AsyncClient, client: HitlClient) -> None:
    iid = await ask(client)
    await stored(alice, iid)
    team = await alice.post(f"/v1/interactions/{iid}/claim", json={"team": "ops"})
    assert team.status_code == 403 and team.json()["path"] == "team"
    too_long = await alice.post(f"/v1/interactions/{iid}/claim", json={"ttl_seconds": 10**6})
    assert too_long.status_code == 422
    longer = await alice.post(f"/v1/interactions/{iid}/claim", json={"ttl_seconds": 90000})
    assert longer.status_code == 422 and longer.json()["path"] == "ttl_seconds"
    unknown = await alice.post("/v1/interactions/00000000-0000-4000-8000-000000000000/claim")
    assert unknown.status_code == 404
