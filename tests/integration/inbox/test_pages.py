"""The inbox over plain HTTP (no browser): signing in and out, CSRF, scopes, escaping and bad
input, against a real gateway and broker."""

import asyncio
import html
import uuid
from typing import Any

import httpx
from redis.asyncio import Redis

from hitl.adapters.redis.apikeys import RedisApiKeys
from hitl.adapters.redis.keys import Keys
from hitl.gateway.service import GatewayService
from hitl.sdk import HitlClient
from tests.integration.gateway.conftest import MakeKey, http_client
from tests.integration.gateway.test_api import ask, stored
from tests.integration.inbox.conftest import SignIn, csrf_of, sign_in
from tests.servers import REDIS_URL

XSS = '<script>alert("x")</script><img src=x onerror="alert(1)">'


def plain(response: httpx.Response) -> str:
    """The page's text with HTML entities read back (quotes are escaped on the page)."""
    return html.unescape(response.text)


async def status_of(api: httpx.AsyncClient, iid: uuid.UUID) -> str:
    response = await api.get(f"/v1/interactions/{iid}")
    status: str = response.json()["status"]
    return status


async def answer(http: httpx.AsyncClient, iid: uuid.UUID, **fields: Any) -> httpx.Response:
    page = await http.get(f"/inbox/i/{iid}")
    return await http.post(f"/inbox/i/{iid}", data={"csrf": csrf_of(page.text), **fields})


async def test_sign_in_keeps_the_key_in_a_safe_cookie_and_sign_out_drops_it(
    gateway: GatewayService, make_key: MakeKey
) -> None:
    async with http_client(gateway) as http:
        assert (await http.get("/inbox/")).headers["location"].startswith("/inbox/signin")
        response = await sign_in(http, await make_key("alice", "read", "respond"))
        assert response.status_code == 303
        cookie = response.headers["set-cookie"].lower()
        for attribute in ("httponly", "samesite=lax", "path=/inbox"):
            assert attribute in cookie
        page = await http.get("/inbox/")
        assert page.status_code == 200 and "Signed in as" in plain(page) and "alice" in plain(page)
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert (await http.post("/inbox/signout", data={"csrf": "forged"})).status_code == 403
        out = await http.post("/inbox/signout", data={"csrf": csrf_of(page.text)})
        assert out.status_code == 303
        assert (await http.get("/inbox/")).status_code == 303


async def test_sign_in_refuses_forged_forms_bad_keys_and_keys_that_cannot_read(
    gateway: GatewayService, make_key: MakeKey
) -> None:
    async with http_client(gateway) as http:
        key = await make_key("alice", "read")
        forged = await http.post("/inbox/signin", data={"key": key, "csrf": "forged"})
        assert forged.status_code == 403 and "expired or came from elsewhere" in plain(forged)
        assert "hitl_inbox=" not in forged.headers.get("set-cookie", "")
        unknown = await sign_in(http, "hitl_000000000000_nope")
        assert unknown.status_code == 401 and "unknown or revoked" in plain(unknown)
        cannot_read = await sign_in(http, await make_key("bot", "request"))
        assert cannot_read.status_code == 403 and "cannot read" in plain(cannot_read)
        assert (await http.get("/inbox/")).status_code == 303  # still signed out


async def test_answers_without_the_sessions_csrf_token_are_refused(
    signed_in: SignIn, alice: httpx.AsyncClient, client: HitlClient
) -> None:
    http = await signed_in("alice", "read", "respond")
    iid = await ask(client)
    await stored(alice, iid)
    form = {"kind": "approval", "action": "approve"}
    missing = await http.post(f"/inbox/i/{iid}", data=form)
    forged = await http.post(f"/inbox/i/{iid}", data={**form, "csrf": "0" * 64})
    other = await signed_in("alice", "read", "respond")  # another session's token
    page = await other.get(f"/inbox/i/{iid}")
    crossed = await http.post(f"/inbox/i/{iid}", data={**form, "csrf": csrf_of(page.text)})
    for response in (missing, forged, crossed):
        assert response.status_code == 403, response.text
        assert "security token is missing or wrong" in plain(response)
    assert await status_of(alice, iid) == "pending"


async def test_a_key_without_respond_sees_no_answer_buttons_and_a_forged_post_is_403(
    signed_in: SignIn, alice: httpx.AsyncClient, client: HitlClient
) -> None:
    http = await signed_in("viewer", "read")
    iid = await ask(client)
    await stored(alice, iid)
    page = await http.get(f"/inbox/i/{iid}")
    assert page.status_code == 200
    assert 'name="action"' not in page.text
    assert "no 'respond' scope" in plain(page)
    response = await http.post(
        f"/inbox/i/{iid}",
        data={"csrf": csrf_of(page.text), "kind": "approval", "action": "approve"},
    )
    assert response.status_code == 403 and "may read but not answer" in plain(response)
    assert await status_of(alice, iid) == "pending"


async def test_someone_not_among_the_responders_sees_who_may_answer(
    signed_in: SignIn, alice: httpx.AsyncClient, client: HitlClient
) -> None:
    http = await signed_in("mallory", "read", "respond")
    iid = await ask(client, responders=["ana", "group:sre"])
    await stored(alice, iid)
    page = await http.get(f"/inbox/i/{iid}")
    assert 'value="approve"' not in page.text
    assert "Only these may answer: ana, group:sre" in plain(page)
    forged = await http.post(
        f"/inbox/i/{iid}",
        data={"csrf": csrf_of(page.text), "kind": "approval", "action": "approve"},
    )
    assert forged.status_code == 403 and "not among the responders" in plain(forged)
    assert await status_of(alice, iid) == "pending"


async def test_html_in_a_request_is_shown_as_text(
    signed_in: SignIn, alice: httpx.AsyncClient, client: HitlClient
) -> None:
    http = await signed_in("alice", "read", "respond")
    iid = await ask(
        client,
        kind="choice",
        prompt=XSS,
        options=[XSS, "fine"],
        context={"note": XSS, "nested": {"html": XSS}},
        labels={"team": XSS},
        thread_id="t-xss",
    )
    await stored(alice, iid)
    for path in ("/inbox/?thread=t-xss", f"/inbox/i/{iid}"):
        html = (await http.get(path)).text
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(" in html


async def test_bad_input_gets_a_page_that_says_so_and_changes_nothing(
    signed_in: SignIn, alice: httpx.AsyncClient, client: HitlClient, gateway: GatewayService
) -> None:
    http = await signed_in("alice", "read", "respond")
    iid = await ask(client)
    await stored(alice, iid)
    unknown = await http.get(f"/inbox/i/{uuid.uuid4()}")
    assert unknown.status_code == 404 and "No such interaction" in plain(unknown)
    assert (await http.get("/inbox/i/not-an-id")).status_code == 404
    wrong_kind = await answer(http, iid, kind="choice", action="choose", **{"data.choice": "1"})
    assert wrong_kind.status_code == 400 and "made for 'choice'" in plain(wrong_kind)
    bad_action = await answer(http, iid, kind="approval", action="launch")
    assert bad_action.status_code == 400 and "'launch' is not one of" in plain(bad_action)
    limit = gateway.settings.gateway_max_body_bytes or gateway.settings.max_payload_bytes
    huge = await answer(
        http, iid, kind="approval", action="approve", **{"data.reason": "x" * limit}
    )
    assert huge.status_code == 413 and "text/html" in huge.headers["content-type"]
    assert "limit is" in plain(huge)
    as_json = await http.post(f"/inbox/i/{iid}", json={"action": "approve"})
    assert as_json.status_code == 400 and "HTML forms" in plain(as_json)
    long_reason = await answer(
        http, iid, kind="approval", action="approve", **{"data.reason": "x" * 20_000}
    )
    assert long_reason.status_code == 422 and "outside 0..16384" in plain(long_reason)
    assert await status_of(alice, iid) == "pending"
    assert (await http.get("/inbox/")).status_code == 200  # still serving


async def test_a_revoked_key_signs_the_session_out(
    gateway: GatewayService, make_key: MakeKey, alice: httpx.AsyncClient, client: HitlClient
) -> None:
    iid = await ask(client)
    await stored(alice, iid)
    key = await make_key("alice", "read", "respond")
    async with http_client(gateway) as http:
        await sign_in(http, key)
        page = await http.get(f"/inbox/i/{iid}")
        redis = Redis.from_url(REDIS_URL)
        s = gateway.settings
        await RedisApiKeys(redis, Keys(s.namespace, s.shards)).revoke(key.split("_")[1])
        await redis.aclose()
        await asyncio.sleep(s.gateway_key_cache_seconds + 0.1)  # the replica's key cache
        response = await http.post(
            f"/inbox/i/{iid}",
            data={"csrf": csrf_of(page.text), "kind": "approval", "action": "approve"},
        )
        assert response.status_code == 401 and "not signed in" in plain(response)
        back = await http.get("/inbox/")
        assert back.status_code == 303 and "expired=1" in back.headers["location"]
    assert await status_of(alice, iid) == "pending"
