"""The HTTP clients webhooks are sent with: one per host name, each with its own keep-alive pool.

Requests go to a checked address, not to the name (``destinations``), and httpx pools
connections by the URL's host, here that address. Were names to share a client, a TLS
connection opened and verified for one name could carry another name's request to the same
address; a client per name keeps every connection to the name it was verified for.
"""

from collections import OrderedDict
from collections.abc import Callable
from http.cookiejar import CookieJar
from typing import Any

import httpx

import hitl

USER_AGENT = f"hitl-webhook/{hitl.__version__}"
MAX_HOSTS = 1024  # past this many names, the least recently used one's client is closed


class NoCookies(CookieJar):
    """A jar that keeps no cookie and reads none: each webhook stands alone. (A jar whose
    policy refuses every domain keeps none either, but parses each response's Set-Cookie
    headers first: about 0.6 % of a send.)"""

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None

    def add_cookie_header(self, request: Any) -> None:
        return None


def new_client() -> httpx.AsyncClient:
    """Redirects are not followed (the channel refuses them); proxies from the environment are
    not used (a proxy would resolve and connect past the destination check); cookies are not
    kept (each webhook stands alone). Timeouts are set per request, from the receiver."""
    return httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        cookies=NoCookies(),
        headers={"user-agent": USER_AGENT},
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
    )


class HostClients:
    def __init__(self, make: Callable[[], httpx.AsyncClient] = new_client) -> None:
        self._make = make
        self._clients: OrderedDict[str, httpx.AsyncClient] = OrderedDict()

    async def for_host(self, host: str) -> httpx.AsyncClient:
        client = self._clients.get(host)
        if client is not None:
            self._clients.move_to_end(host)
            return client
        client = self._clients[host] = self._make()
        if len(self._clients) > MAX_HOSTS:
            # A request still using it fails as a connection error, and is retried.
            _, oldest = self._clients.popitem(last=False)
            await oldest.aclose()
        return client

    async def aclose(self) -> None:
        while self._clients:
            _, client = self._clients.popitem()
            await client.aclose()
