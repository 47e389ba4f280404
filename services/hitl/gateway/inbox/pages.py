"""The list of interactions, one interaction with its answer forms, and answering it.

Reads go through the gateway's read port and views (``context.reads``, ``views``); answers
through ``hitl.gateway.answers.submit``, exactly as ``POST /v1/interactions/{id}/responses``:
the store is read first, and the broker, the one writer, says what the answer did. Nothing
here writes interaction state.
"""

import time
from uuid import uuid4

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hitl.core.decisions import holds, may_answer
from hitl.core.machine import InteractionState
from hitl.errors import TransportError
from hitl.gateway import answers, claims, views
from hitl.gateway.deps import Scope, context
from hitl.gateway.inbox import session as sessions
from hitl.gateway.inbox.answering import (
    Form,
    NotThisForm,
    answer_from_form,
    field_errors,
    one,
)
from hitl.gateway.inbox.common import BadForm, as_uuid, message, read_form, router, to_signin
from hitl.gateway.inbox.display import claim_line
from hitl.gateway.inbox.listing import PAGE_SIZE, ListView
from hitl.gateway.inbox.session import Session
from hitl.gateway.inbox.templating import HEADERS, Filled, page
from hitl.gateway.pages import page as listing_page
from hitl.gateway.problems import Problem
from hitl_contract import KIND_NAMES, Claim, ClaimAction

_CLAIM_OPS = {"claim": ClaimAction.CLAIM, "release": ClaimAction.RELEASE}
_DONE = {
    "accepted": "Your answer decided it.",
    "claimed": "You hold the claim: others see it, and only you may answer until it expires.",
    "released": "The claim is released: anyone allowed may answer or claim it.",
    "recorded": "Your vote is recorded; the decision waits for the other responders.",
    "held": "Your answer is held until the broker has the request; it will count then.",
}


@router.get("")
async def to_list() -> Response:
    return RedirectResponse("/inbox/", 307)


@router.get("/")
async def list_page(request: Request) -> Response:
    session, presented = await sessions.current(request)
    if session is None:
        return to_signin(request, presented)
    view = ListView.parse(request.query_params)
    filters = view.filters(session.principal.identity)
    problems = list(view.problems)
    started = time.perf_counter()
    try:
        items, next_cursor = await listing_page(
            context(request), filters, PAGE_SIZE, view.cursor or None
        )
    except Problem as exc:  # a cursor of another listing: start again without it
        problems.append(exc.detail or exc.title)
        items, next_cursor = [], None
    read = time.perf_counter()
    response = page(
        "list.html",
        session=session,
        view=view,
        items=items,
        next_query=view.query(next_cursor) if next_cursor else None,
        problems=problems,
        kinds=KIND_NAMES,
    )
    rendered = time.perf_counter()
    response.headers["Server-Timing"] = (
        f"read;dur={(read - started) * 1000:.2f}, render;dur={(rendered - read) * 1000:.2f}"
    )
    return response


@router.get("/i/{interaction_id}")
async def detail_page(request: Request, interaction_id: str) -> Response:
    session, presented = await sessions.current(request)
    if session is None:
        return to_signin(request, presented)
    state = await _load(request, interaction_id)
    if state is None:
        return _unknown(session, interaction_id)
    done = _DONE.get(request.query_params.get("done", ""))
    return await _detail(request, session, state, Filled(), notice=done)


@router.post("/i/{interaction_id}")
async def answer(request: Request, interaction_id: str) -> Response:
    posted = await _posted(request, interaction_id)
    if isinstance(posted, Response):
        return posted
    session, form, state = posted
    try:
        given = answer_from_form(state.request, form)
    except NotThisForm as exc:
        return message("Not this interaction's form", f"{exc}; nothing was sent.", 400, session)
    response_id = as_uuid(one(form, "response_id"))
    try:
        _, result = await answers.submit(
            context(request),
            session.principal,
            state.request.id,
            given.action,
            given.data,
            response_id,
        )
    except Problem as exc:
        return await _refused(request, session, state, form, given.action, exc)
    except TransportError:
        return _unreachable(session, state, "answer")
    target = f"/inbox/i/{state.request.id}?done={result.result.value}"
    return RedirectResponse(target, 303, headers=HEADERS)


@router.post("/i/{interaction_id}/claim")
async def claim(request: Request, interaction_id: str) -> Response:
    """Claim or release it (``op``), as ``POST``/``DELETE /v1/interactions/{id}/claim`` do
    with the signed-in key: the broker decides."""
    posted = await _posted(request, interaction_id)
    if isinstance(posted, Response):
        return posted
    session, form, state = posted
    op = one(form, "op")
    if op not in _CLAIM_OPS:
        return message(
            "Not an inbox form", f"op {op[:32]!r} is neither claim nor release", 400, session
        )
    try:
        await claims.claim(context(request), session.principal, state.request.id, _CLAIM_OPS[op])
    except Problem as exc:
        fresh = await context(request).reads.load(state.request.id) or state
        error = exc.detail or exc.title
        return await _detail(request, session, fresh, Filled(), error=error, status=exc.status)
    except TransportError:
        return _unreachable(session, state, "claim")
    target = f"/inbox/i/{state.request.id}?done={'claimed' if op == 'claim' else 'released'}"
    return RedirectResponse(target, 303, headers=HEADERS)


async def _posted(
    request: Request, interaction_id: str
) -> tuple[Session, Form, InteractionState] | Response:
    """The signed-in session, its form and the interaction of a post; or the page saying why
    nothing was sent (signed out, not an inbox form, a wrong CSRF token, no respond scope, an
    unknown id)."""
    session, _ = await sessions.current(request)
    if session is None:
        return message(
            "Signed out",
            "You are not signed in (or your key was revoked): nothing was sent. Sign in and "
            "answer again.",
            401,
            back=f"/inbox/signin?next=/inbox/i/{interaction_id}",
        )
    try:
        form = await read_form(request)
    except BadForm as exc:
        return message("Not an inbox form", f"{exc}; nothing was sent.", 400, session)
    if not sessions.same_token(session.csrf, one(form, "csrf")):
        return message(
            "Form refused",
            "The form's security token is missing or wrong (it may come from another site, or "
            "from before you signed in again): nothing was sent. Reload the page and answer again.",
            403,
            session,
        )
    if not session.may_respond:
        return message(
            "Not allowed",
            f"Your key ({session.principal.key_id}) may read but not answer: it has no "
            "'respond' scope. Nothing was sent.",
            403,
            session,
        )
    state = await _load(request, interaction_id)
    if state is None:
        return _unknown(session, interaction_id)
    return session, form, state


def _unreachable(session: Session, state: InteractionState, what: str) -> Response:
    return message(
        "Try again shortly",
        f"RabbitMQ or Redis cannot be reached right now, so the {what} was not sent.",
        503,
        session,
        back=f"/inbox/i/{state.request.id}",
    )


async def _refused(
    request: Request,
    session: Session,
    state: InteractionState,
    form: Form,
    action: str,
    problem: Problem,
) -> Response:
    """The interaction's page again, saying why: with the broker's errors beside the inputs
    (the interaction stays pending), or with who decided it meanwhile."""
    if problem.kind == "invalid-answer":
        errors = field_errors(problem.extra, problem.detail)
        filled = Filled(form, errors, action)
        return await _detail(request, session, state, filled, status=422)
    fresh = await context(request).reads.load(state.request.id) or state
    if problem.kind == "already-resolved":
        notice = "Someone else decided this meanwhile; your answer was not counted."
        return await _detail(request, session, fresh, Filled(), notice=notice, status=409)
    return await _detail(
        request,
        session,
        fresh,
        Filled(),
        error=problem.detail or problem.title,
        status=problem.status,
    )


async def _detail(
    request: Request,
    session: Session,
    state: InteractionState,
    filled: Filled,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    ctx = context(request)
    shown = views.detail(state, await ctx.reads.history(state.request.id), ctx.clock())
    request_ = state.request
    identity = session.principal.identity
    allowed = request_.responders is None or may_answer(request_.responders, identity)
    respond = state.is_pending and session.may_respond
    held = shown.claim
    theirs = held is not None and not holds(held, identity)
    return page(
        "detail.html",
        status,
        session=session,
        d=shown,
        r=request_,
        summary=views.summary(state, context(request).clock()),
        f=filled,
        can_answer=respond and allowed and not theirs,
        can_cancel=respond and (allowed or request_.requester.id == identity.id),
        claim_op=_claim_op(session, held, respond and allowed),
        why_not=_why_not(session, state, allowed, held if theirs else None),
        notice=notice,
        error=error,
        response_id=uuid4(),
    )


def _why_not(
    session: Session, state: InteractionState, allowed: bool, theirs: Claim | None
) -> str | None:
    if not state.is_pending:
        return None
    if not session.principal.allows(Scope.RESPOND):
        return "Your key may read but not answer (it has no 'respond' scope)."
    if not allowed:
        return "Only these may answer: " + ", ".join(state.request.responders or []) + "."
    if theirs is not None:
        return f"{claim_line(theirs)}: only they may answer until it expires or is released."
    return None


def _claim_op(session: Session, held: Claim | None, may: bool) -> str | None:
    """The claim button the page offers: claim it (nobody holds it), release it (one's own
    claim, or anyone's with an admin key), or none."""
    if held is None:
        return "claim" if may else None
    admin = Scope.ADMIN in session.principal.scopes
    return "release" if admin or holds(held, session.principal.identity) else None


async def _load(request: Request, interaction_id: str) -> InteractionState | None:
    uid = as_uuid(interaction_id)
    return await context(request).reads.load(uid) if uid is not None else None


def _unknown(session: Session, interaction_id: str) -> Response:
    return message(
        "No such interaction",
        f"There is no interaction {interaction_id[:64]!r}: never asked, past its retention, "
        "or in another namespace.",
        404,
        session,
    )
