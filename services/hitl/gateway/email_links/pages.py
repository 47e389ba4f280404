"""The answer link pages: one template, autoescaped, with the inbox's stylesheet, sent with
headers that keep the token in the URL to this origin (no Referer), out of caches and out of
frames (a one-click answer must not be clickjacked)."""

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import Any

from starlette.responses import HTMLResponse

from hitl.gateway.templates import environment

COOKIE = "hitl_link"
PATH = "/email/links/"
_LABEL = b"hitl-email-link-confirm:"
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
_env = environment("hitl.gateway.email_links")


def page(
    status: int,
    title: str,
    lines: list[str],
    *,
    form: Mapping[str, Any] | None = None,
    cookie: str | None = None,
    https: bool = False,
) -> HTMLResponse:
    """A page saying ``title`` and ``lines``; with ``form`` (action, label, confirm, ...), the
    confirmation form, and ``cookie`` the value its confirm MAC is made of."""
    html = _env.get_template("page.html").render(title=title, lines=lines, form=form)
    response = HTMLResponse(html, status_code=status, headers=HEADERS)
    if cookie is not None:
        response.set_cookie(
            COOKIE, cookie, path=PATH, httponly=True, samesite="strict", secure=https
        )
    return response


def new_cookie() -> str:
    return secrets.token_urlsafe(18)


def confirm_mac(secret: bytes, use: str, cookie: str) -> str:
    return hmac.new(secret, _LABEL + f"{use}:{cookie}".encode(), hashlib.sha256).hexdigest()


def confirmed(secret: bytes, use: str, cookie: str | None, presented: str | None) -> bool:
    """Whether the POST came from the page: the cookie it set, and the form's MAC of it."""
    if not cookie or not presented or len(cookie) > 64:
        return False
    return hmac.compare_digest(confirm_mac(secret, use, cookie).encode(), presented.encode())
