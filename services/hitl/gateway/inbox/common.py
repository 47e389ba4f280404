"""What the inbox's routes share: the router, the message page, reading a posted form, the
way to the sign-in page."""

from urllib.parse import parse_qs, urlencode
from uuid import UUID

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hitl.gateway.inbox.answering import Form
from hitl.gateway.inbox.session import Session
from hitl.gateway.inbox.templating import HEADERS, page

router = APIRouter(prefix="/inbox", include_in_schema=False)
STATIC = "/inbox/static"
_MAX_FIELDS = 5000
_FORM = "application/x-www-form-urlencoded"


def message(
    title: str, detail: str, status: int, session: Session | None = None, back: str = "/inbox/"
) -> Response:
    """A page saying what went wrong and where to go from here."""
    return page("message.html", status, title=title, detail=detail, session=session, back=back)


class BadForm(Exception):
    """The post is not a form the inbox made; the message says why."""


async def read_form(request: Request) -> Form:
    """The posted form's fields (the gateway's body limit has already bounded its size)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != _FORM:
        raise BadForm(f"the inbox takes HTML forms ({_FORM}), not {content_type or 'nothing'}")
    try:
        body = (await request.body()).decode()
        return parse_qs(body, keep_blank_values=True, max_num_fields=_MAX_FIELDS)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadForm(f"the form could not be read: {exc}") from exc


def to_signin(request: Request, expired: bool) -> Response:
    """Off to the sign-in page, coming back here afterwards."""
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    query = {"next": back, **({"expired": "1"} if expired else {})}
    return RedirectResponse(f"/inbox/signin?{urlencode(query)}", 303, headers=HEADERS)


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of the inbox, never another site."""
    if not target or not target.startswith("/inbox/") or "\\" in target or "//" in target:
        return "/inbox/"
    return target


def as_uuid(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None
