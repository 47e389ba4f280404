"""Signing in to the inbox: the API key kept in a cookie, and the CSRF token of its session.

The session cookie holds ``<nonce>.<api key>``. It is HttpOnly (no script on the page can read
it), scoped to ``/inbox``, Secure when the request came over HTTPS, and ``SameSite=Lax``: a
browser sends it on a top-level GET from another site, so a link in a chat or an e-mail opens
the interaction for a person who is signed in (with ``Strict`` it would show the sign-in page),
and never on another site's POST, fetch or frame. Every request re-checks the key with the
gateway's key store, so a revoked key signs its sessions out within the key cache period.

Every form post carries a CSRF token, a synchronizer token tied to the session without any
server-side state: ``HMAC-SHA256(api key, "hitl-inbox-csrf:" + nonce)``. Another site can
neither read the page that holds it nor compute it without the key; a new sign-in draws a new
nonce, so tokens of an earlier session stop working. The sign-in form, before there is a
session, is guarded by a double-submit cookie: a random value in a cookie of its own and in
the form, which must match.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from hitl.gateway.deps import Principal, Scope, context

COOKIE = "hitl_inbox"
SIGNIN_COOKIE = "hitl_inbox_signin"
PATH = "/inbox"
_LABEL = b"hitl-inbox-csrf:"
_MAX_COOKIE = 1024


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in person: who the key stands for, and the session's CSRF token."""

    principal: Principal
    csrf: str

    @property
    def may_respond(self) -> bool:
        return self.principal.allows(Scope.RESPOND)


def new_nonce() -> str:
    return secrets.token_urlsafe(18)


def csrf_token(key: str, nonce: str) -> str:
    return hmac.new(key.encode(), _LABEL + nonce.encode(), hashlib.sha256).hexdigest()


def same_token(expected: str, presented: str | None) -> bool:
    """Constant-time comparison; a missing token never matches."""
    return bool(presented) and hmac.compare_digest(expected.encode(), (presented or "").encode())


def split_cookie(value: str | None) -> tuple[str, str] | None:
    """(nonce, api key) of a session cookie; None when absent or not shaped like one."""
    if not value or len(value) > _MAX_COOKIE:
        return None
    nonce, dot, key = value.partition(".")
    return (nonce, key) if dot and nonce and key else None


async def current(request: Request) -> tuple[Session | None, bool]:
    """(the request's session or None, whether a session cookie was presented: one whose key
    is unknown, revoked or expired is signed out, and the page says so)."""
    parts = split_cookie(request.cookies.get(COOKIE))
    if parts is None:
        return None, COOKIE in request.cookies
    nonce, key = parts
    principal = await context(request).keys.authenticate(key)
    if principal is None:
        return None, True
    return Session(principal, csrf_token(key, nonce)), True


def sign_in(response: Response, request: Request, key: str) -> None:
    _set(response, request, COOKIE, f"{new_nonce()}.{key}")
    _clear(response, request, SIGNIN_COOKIE)


def sign_out(response: Response, request: Request) -> None:
    _clear(response, request, COOKIE)


def signin_token(request: Request) -> tuple[str, bool]:
    """The sign-in form's double-submit token: (the cookie's, False), or (a new one, True) for
    ``remember_signin_token`` to set."""
    token = request.cookies.get(SIGNIN_COOKIE)
    if token and len(token) <= 64:
        return token, False
    return new_nonce(), True


def remember_signin_token(response: Response, request: Request, token: str) -> None:
    _set(response, request, SIGNIN_COOKIE, token)


def _set(response: Response, request: Request, name: str, value: str) -> None:
    secure = request.url.scheme == "https"
    response.set_cookie(name, value, path=PATH, httponly=True, samesite="lax", secure=secure)


def _clear(response: Response, request: Request, name: str) -> None:
    secure = request.url.scheme == "https"
    response.delete_cookie(name, path=PATH, httponly=True, samesite="lax", secure=secure)
