"""A broker and a gateway on the real servers (the gateway tests' fixtures), and signed-in
HTTP clients of the inbox."""

import re
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from hitl.gateway.service import GatewayService
from tests.integration.gateway.conftest import (  # noqa: F401 - fixtures used here
    MakeKey,
    alice,
    gateway,
    make_key,
    settings,
)

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
SignIn = Callable[..., Awaitable[httpx.AsyncClient]]


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


async def sign_in(http: httpx.AsyncClient, key: str) -> httpx.Response:
    page = await http.get("/inbox/signin")
    return await http.post(
        "/inbox/signin", data={"key": key, "csrf": csrf_of(page.text), "next": "/inbox/"}
    )


@pytest.fixture
async def signed_in(
    gateway: GatewayService,  # noqa: F811
    make_key: MakeKey,  # noqa: F811
) -> AsyncIterator[SignIn]:
    """``await signed_in("alice", "read", "respond")``: a client signed in with a new key."""
    clients: list[httpx.AsyncClient] = []

    async def make(
        identity: str, *scopes: str, groups: list[str] | None = None
    ) -> httpx.AsyncClient:
        http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}", timeout=15)
        clients.append(http)
        response = await sign_in(http, await make_key(identity, *scopes, groups=groups))
        assert response.status_code == 303, response.text
        return http

    yield make
    for http in reversed(clients):
        await http.aclose()
