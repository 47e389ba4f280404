"""``/email/links/{token}``: the answer links of email notifications (``hitl.core.links``).
GET shows the answer the link gives and asks to confirm it; POST, from that page only,
answers through ``answers.submit`` as the address the mail went to (or who the receiver's
``identities`` say it is), through channel ``email:<receiver>``. HTML pages for people, not
part of the OpenAPI document. See ``hitl.gateway.email_links``."""

import time
from datetime import UTC, datetime
from urllib.parse import parse_qs
from uuid import uuid5

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from hitl.core.links import BadLink, Link, open_link
from hitl.errors import TransportError
from hitl.gateway import answers
from hitl.gateway.channels import Channels
from hitl.gateway.deps import Principal, Scope, context
from hitl.gateway.email_links.pages import COOKIE, PATH, confirm_mac, confirmed, new_cookie, page
from hitl.gateway.problems import Problem
from hitl.notifiers.answers import described
from hitl.notifiers.email.render import settled_line
from hitl.ports import InteractionReads
from hitl_contract import InteractionOutcome

router = APIRouter(prefix=PATH.rstrip("/"), include_in_schema=False)
_NOTHING = "Nothing was changed."


@router.get("/{token}")
async def show(request: Request, token: str) -> Response:
    checked = await _check(request, token)
    if isinstance(checked, Response):
        return checked
    channels, link = checked
    state = await context(request).reads.load(link.interaction_id)
    assert state is not None  # _check found it
    cookie = new_cookie()
    assert channels.link_secret is not None
    what = described(link.action, link.data)
    return page(
        200,
        f"Confirm: {what}",
        [
            f"{state.request.requester.id} asks: {state.request.prompt[:2000]}",
            f"Pressing the button answers {what} as {link.address}.",
        ],
        form={
            "action": f"{PATH}{token}",
            "label": f"Confirm: {what}",
            "confirm": confirm_mac(channels.link_secret, link.use, cookie),
        },
        cookie=cookie,
        https=request.url.scheme == "https",
    )


@router.post("/{token}")
async def answer(request: Request, token: str) -> Response:
    checked = await _check(request, token)
    if isinstance(checked, Response):
        return checked
    channels, link = checked
    assert channels.link_secret is not None
    form = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=10)
    presented = form["confirm"][0] if form.get("confirm") else None
    if not confirmed(channels.link_secret, link.use, request.cookies.get(COOKIE), presented):
        return page(
            403,
            "Not confirmed",
            ["This answer did not come from the link's own page (or its cookie is gone). "
             + _NOTHING, "Open the link from the mail again and confirm there."],
        )  # fmt: skip
    ctx = context(request)
    record = orjson.dumps({"at": ctx.clock(), "action": described(link.action, link.data)})
    ttl = max(int(link.expires - ctx.clock()), 1)
    if not await channels.uses.claim(link.use, record, ttl):
        return await _used(ctx.reads, channels, link)
    receiver = channels.email(link.receiver)
    identity = receiver.identity(link.address) if receiver else None
    if identity is None:
        await channels.uses.forget(link.use)
        return page(404, "Receiver gone", [f"{link.receiver} is no longer an email receiver "
                    "of this deployment's routing file. " + _NOTHING])  # fmt: skip
    channel = f"email:{link.receiver}"[:64]
    principal = Principal(f"email:{link.receiver}", identity, frozenset({Scope.RESPOND}), channel)
    response_id = uuid5(link.interaction_id, link.use)
    try:
        status, result = await answers.submit(
            ctx, principal, link.interaction_id, link.action, link.data, response_id
        )
    except (Problem, TransportError) as exc:
        return await _refused(channels, link, exc)
    what = described(link.action, link.data)
    if status == 202:
        return page(202, "Answer recorded", [f"Your answer ({what}) is recorded as "
                    f"{identity.id}; the request waits for other answers."])  # fmt: skip
    lines = [settled_line(result.outcome)] if result.outcome else []
    return page(200, "Done", [f"You answered {what} as {identity.id}.", *lines])


async def _check(request: Request, token: str) -> tuple[Channels, Link] | Response:
    """The channels and the link, when the link can still answer; else the page that says
    why not (and who decided and when, when that is known)."""
    ctx = context(request)
    channels = ctx.channels
    if channels is None or channels.link_secret is None:
        return page(404, "Links are off", ["This gateway takes no answer links: it has no "
                    "routing file or no link secret (HITL_LINK_SECRET). " + _NOTHING])  # fmt: skip
    try:
        link = open_link(token, channels.link_secret)
    except BadLink:
        return page(
            400,
            "Not a valid link",
            ["This link was altered, cut short, or not made by this deployment. " + _NOTHING,
             "Open the link from the mail as it is, or answer in the inbox."],
        )  # fmt: skip
    state = await ctx.reads.load(link.interaction_id)
    if state is None:
        return page(404, "Unknown request", ["This request is not known here (any more). "
                    + _NOTHING])  # fmt: skip
    if await channels.uses.read(link.use) is not None:
        return await _used(ctx.reads, channels, link)
    if link.expired(ctx.clock()):
        expired = _when(link.expires)
        return page(410, "Link expired", [f"This link expired at {expired}. " + _NOTHING,
                    *_outcome(state.outcome)])  # fmt: skip
    if state.outcome is not None:
        return page(409, "Already settled", [*_outcome(state.outcome), _NOTHING])
    return channels, link


async def _used(reads: InteractionReads, channels: Channels, link: Link) -> Response:
    raw = await channels.uses.read(link.use)
    used = orjson.loads(raw) if raw else {}
    state = await reads.load(link.interaction_id)
    at = _when(float(used.get("at", time.time())))
    lines = [f"This mail's links were used at {at} (to answer {used.get('action', '?')}). "
             + _NOTHING]  # fmt: skip
    if state is not None:
        lines += _outcome(state.outcome) or ["The request is still waiting for other answers."]
    return page(409, "Link already used", lines)


async def _refused(channels: Channels, link: Link, exc: Problem | TransportError) -> Response:
    if isinstance(exc, TransportError) or exc.status >= 500:
        await channels.uses.forget(link.use)  # not taken: the link works again
        return page(503, "Try again", ["hitl could not take the answer just now. " + _NOTHING,
                    "Go back and confirm again in a minute."])  # fmt: skip
    if exc.status == 409:
        outcome = exc.extra.get("outcome")
        lines = [settled_line(InteractionOutcome.model_validate(outcome))] if outcome else []
        return page(409, "Already settled", [*lines, _NOTHING])
    if exc.status == 403:
        return page(403, "Not allowed", [f"{link.address} may not answer this request. "
                    + _NOTHING])  # fmt: skip
    return page(exc.status, "Not accepted", [f"{exc.detail or exc.title}. " + _NOTHING])


def _outcome(outcome: InteractionOutcome | None) -> list[str]:
    return [f"It was settled: {settled_line(outcome)}."] if outcome is not None else []


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")
