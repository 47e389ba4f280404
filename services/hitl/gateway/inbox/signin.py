"""Signing in with an API key, and out."""

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hitl.gateway.deps import Scope, context
from hitl.gateway.inbox import session as sessions
from hitl.gateway.inbox.answering import one
from hitl.gateway.inbox.common import BadForm, read_form, router, safe_next
from hitl.gateway.inbox.templating import HEADERS, page


@router.get("/signin")
async def signin_page(request: Request) -> Response:
    session, _ = await sessions.current(request)
    target = safe_next(request.query_params.get("next"))
    if session is not None:
        return RedirectResponse(target, 303, headers=HEADERS)
    expired = request.query_params.get("expired") == "1"
    notice = "Your key is no longer valid (revoked or expired): sign in again." if expired else ""
    return _form(request, target, notice, 200)


@router.post("/signin")
async def signin(request: Request) -> Response:
    try:
        form = await read_form(request)
    except BadForm as exc:
        return _form(request, "/inbox/", str(exc), 400)
    target = safe_next(one(form, "next"))
    if not sessions.same_token(request.cookies.get(sessions.SIGNIN_COOKIE, ""), one(form, "csrf")):
        return _form(
            request, target, "The sign-in form expired or came from elsewhere: try again.", 403
        )
    key = one(form, "key").strip()
    principal = await context(request).keys.authenticate(key) if key else None
    if principal is None:
        return _form(request, target, "That key is unknown or revoked.", 401)
    if not principal.allows(Scope.READ):
        scopes = ", ".join(sorted(principal.scopes))
        return _form(request, target, f"That key cannot read interactions (scopes: {scopes}).", 403)
    response = RedirectResponse(target, 303, headers=HEADERS)
    sessions.sign_in(response, request, key)
    return response


@router.post("/signout")
async def signout(request: Request) -> Response:
    session, _ = await sessions.current(request)
    try:
        form = await read_form(request)
    except BadForm:
        form = {}
    if session is not None and not sessions.same_token(session.csrf, one(form, "csrf")):
        return page(
            "message.html",
            403,
            title="Not signed out",
            detail="The form's security token is missing or wrong: reload the page and try again.",
            session=session,
            back="/inbox/",
        )
    response = RedirectResponse("/inbox/signin", 303, headers=HEADERS)
    sessions.sign_out(response, request)
    return response


def _form(request: Request, target: str, error: str, status: int) -> Response:
    token, fresh = sessions.signin_token(request)
    response = page("signin.html", status, next=target, error=error, csrf=token, session=None)
    if fresh:
        sessions.remember_signin_token(response, request, token)
    return response
