"""Claims in the inbox over plain HTTP against a real gateway and broker: the Claim button
goes through the gateway's claim path with the signed-in key, the list and the page say
"Claimed by X until T", someone else sees why they cannot answer (and a forged answer or claim
is refused naming the holder), the holder or an admin key releases it."""

import re

import httpx

from hitl.sdk import HitlClient
from tests.integration.gateway.test_api import ask, stored
from tests.integration.inbox.conftest import SignIn, csrf_of
from tests.integration.inbox.test_pages import plain

CLAIMED = r"Claimed by alice until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"


async def claim(http: httpx.AsyncClient, iid: object, op: str) -> httpx.Response:
    page = await http.get(f"/inbox/i/{iid}")
    return await http.post(f"/inbox/i/{iid}/claim", data={"csrf": csrf_of(page.text), "op": op})


async def test_claim_shown_to_others_and_released(
    signed_in: SignIn, alice: httpx.AsyncClient, client: HitlClient
) -> None:
    mine = await signed_in("alice", "read", "respond")
    iid = await ask(client)
    await stored(alice, iid)
    before = await mine.get(f"/inbox/i/{iid}")
    assert 'id="claim-button">Claim it<' in before.text and 'value="approve"' in before.text

    taken = await claim(mine, iid, "claim")
    assert taken.status_code == 303 and taken.headers["location"].endswith("?done=claimed")
    page = await mine.get(taken.headers["location"])
    assert re.search(rf'id="claim-line">{CLAIMED}<', page.text), page.text
    assert "You hold the claim" in page.text
    assert "Release the claim" in page.text and 'value="approve"' in page.text
    listed = await mine.get("/inbox/")
    assert re.search(rf'class="claim-line">{CLAIMED}<', listed.text)
    assert (await alice.get(f"/v1/interactions/{iid}")).json()["claim"]["holder"]["id"] == "alice"

    bob = await signed_in("bob", "read", "respond")
    theirs = await bob.get(f"/inbox/i/{iid}")
    assert re.search(rf"{CLAIMED}: only they may answer", plain(theirs))
    assert 'value="approve"' not in theirs.text and "claim-button" not in theirs.text
    refused = await bob.post(
        f"/inbox/i/{iid}/claim", data={"csrf": csrf_of(theirs.text), "op": "claim"}
    )
    assert refused.status_code == 409 and "claimed by alice until" in plain(refused)
    forged = await bob.post(
        f"/inbox/i/{iid}",
        data={"csrf": csrf_of(theirs.text), "kind": "approval", "action": "approve"},
    )
    assert forged.status_code == 409 and "claimed by alice until" in plain(forged)
    not_his = await bob.post(
        f"/inbox/i/{iid}/claim", data={"csrf": csrf_of(theirs.text), "op": "release"}
    )
    assert not_his.status_code == 403 and "only the holder" in plain(not_his)

    released = await claim(mine, iid, "release")
    assert released.status_code == 303 and released.headers["location"].endswith("=released")
    assert (await alice.get(f"/v1/interactions/{iid}")).json()["claim"] is None
    assert "claim-line" not in (await bob.get(f"/inbox/i/{iid}")).text


async def test_an_admin_releases_and_bad_posts_change_nothing(
    signed_in: SignIn, alice: httpx.AsyncClient, client: HitlClient
) -> None:
    mine = await signed_in("alice", "read", "respond")
    iid = await ask(client)
    await stored(alice, iid)
    assert (await claim(mine, iid, "claim")).status_code == 303
    root = await signed_in("root", "admin")
    page = await root.get(f"/inbox/i/{iid}")
    assert "Release the claim" in page.text
    odd = await root.post(f"/inbox/i/{iid}/claim", data={"csrf": csrf_of(page.text), "op": "x"})
    assert odd.status_code == 400
    no_token = await root.post(f"/inbox/i/{iid}/claim", data={"csrf": "forged", "op": "release"})
    assert no_token.status_code == 403
    viewer = await signed_in("viewer", "read")
    read_only = await viewer.post(
        f"/inbox/i/{iid}/claim",
        data={"csrf": csrf_of((await viewer.get(f"/inbox/i/{iid}")).text), "op": "claim"},
    )
    assert read_only.status_code == 403
    assert (await alice.get(f"/v1/interactions/{iid}")).json()["claim"]["holder"]["id"] == "alice"
    assert (await claim(root, iid, "release")).status_code == 303
    assert (await alice.get(f"/v1/interactions/{iid}")).json()["claim"] is None
