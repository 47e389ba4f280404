"""``/slack/interactivity``: the Request URL of a Slack app's interactivity. Slack posts here
when someone clicks a button of a hitl message or submits a modal.

Every request is checked before anything is read from it: ``X-Slack-Signature`` with
slack_sdk's ``SignatureVerifier`` (v0, HMAC-SHA256, compared in constant time) against the
signing secrets of the routing file's Slack receivers, ``X-Slack-Request-Timestamp`` within
300 seconds, and the signature not seen before (by any replica): a forged, stale or replayed
request gets 401 and changes nothing; a payload not shaped as Slack's gets 400. The value a
button carries names its receiver, whose own secret must be the one that signed.

The Slack user who clicked answers as the person the receiver's ``users`` maps them to, so
the request's ``responders`` rules hold; a user not mapped is told so (a message only they
see) and nothing is answered. Answers go through ``answers.submit``: the broker decides.
A one-click answer is acknowledged at once and its result told to the person only; a modal's
errors (the broker's, per field) are shown in the modal. The Claim button claims it as the
mapped identity through ``claims.claim`` (who holds it, and until when, told the same way).
Not in the OpenAPI document: Slack is its only client, and the shapes are Slack's.
"""

import hashlib
import logging
from collections.abc import Mapping
from typing import Any
from uuid import UUID, uuid5

from fastapi import APIRouter, BackgroundTasks, Request
from slack_sdk.signature import SignatureVerifier
from starlette.responses import JSONResponse, Response

from hitl.core.routing.config import SlackReceiver
from hitl.errors import ConfigError, HitlError, TransportError
from hitl.gateway import answers, claims
from hitl.gateway.channels import Channels
from hitl.gateway.deps import GatewayContext, Principal, Scope, context
from hitl.gateway.inbox.answering import NotThisForm, answer_from_form, field_errors
from hitl.gateway.problems import Problem
from hitl.gateway.slack_payloads import (
    BadPayload,
    Click,
    block_errors,
    click,
    read,
    submission,
)
from hitl.notifiers.answers import described
from hitl.notifiers.email.render import settled_line
from hitl.notifiers.slack.blocks import claim_line, modal
from hitl.notifiers.slack.values import Carried
from hitl_contract import ClaimAction, Identity, InteractionOutcome, JsonObject

log = logging.getLogger(__name__)
PATH = "/slack/"
router = APIRouter(prefix=PATH.rstrip("/"), include_in_schema=False)
REPLAY_WINDOW_SECONDS = 2 * 300  # a request stays fresh 300 s either side of now


@router.post("/interactivity")
async def interactivity(request: Request, background: BackgroundTasks) -> Response:
    ctx = context(request)
    channels = ctx.channels
    if channels is None or not _signing(channels):
        raise Problem(404, "slack-off", "Slack is not set up", "no Slack receiver of the "
                      "gateway's routing file has a signing_secret")  # fmt: skip
    body = await request.body()
    signed_by = _verify(channels, body, request.headers)
    digest = hashlib.sha256(request.headers.get("x-slack-signature", "").encode()).hexdigest()
    if not await channels.seen.first_time(f"slack:{digest}", REPLAY_WINDOW_SECONDS):
        raise Problem(401, "bad-signature", "Signature refused", "this request was sent before")
    try:
        payload = read(body)
        kind = payload["type"]
        if kind == "block_actions":
            clicked = click(payload)
            if clicked is None:
                return Response(status_code=200)
            return await _clicked(ctx, channels, clicked, signed_by, digest, background)
        if kind == "view_submission":
            return await _submitted(ctx, channels, payload, signed_by, digest)
    except BadPayload as exc:
        raise Problem(400, "bad-payload", "Not a Slack interaction payload", str(exc)) from exc
    return Response(status_code=200)  # view_closed, shortcuts...: nothing of hitl's


def _signing(channels: Channels) -> list[SlackReceiver]:
    return [r for r in channels.slack_receivers() if r.signing_secret is not None]


def _verify(channels: Channels, body: bytes, headers: Mapping[str, str]) -> set[str]:
    """The receivers whose signing secret signed the request; 401 when none did."""
    timestamp = headers.get("x-slack-request-timestamp")
    signature = headers.get("x-slack-signature")
    matched: set[str] = set()
    for receiver in _signing(channels):
        assert receiver.signing_secret is not None
        try:
            secret = channels.secrets(receiver.signing_secret)
        except ConfigError as exc:
            log.warning("slack receiver %s: %s", receiver.name, exc)
            continue
        if SignatureVerifier(secret).is_valid(body, timestamp, signature):
            matched.add(receiver.name)
    if not matched:
        raise Problem(401, "bad-signature", "Signature refused", "X-Slack-Signature does not "
                      "match, or X-Slack-Request-Timestamp is more than 300 s away")  # fmt: skip
    return matched


def _receiver(channels: Channels, carried: Carried, signed_by: set[str]) -> SlackReceiver:
    found = channels.receiver(carried.receiver)
    if not isinstance(found, SlackReceiver) or found.name not in signed_by:
        raise Problem(401, "bad-signature", "Signature refused", "the request was not signed "
                      f"with the signing secret of receiver {carried.receiver!r}")  # fmt: skip
    return found


def _principal(receiver: SlackReceiver, identity: Identity) -> Principal:
    channel = f"slack:{receiver.name}"[:64]
    return Principal(channel, identity, frozenset({Scope.RESPOND}), channel)


def _not_mapped(user: str, receiver: SlackReceiver) -> str:
    return (f"Your Slack user ({user}) is not mapped to a hitl identity, so you cannot answer "
            f"here. Ask an operator to add it under `users` of receiver {receiver.name}. "
            "Nothing was answered.")  # fmt: skip


async def _clicked(
    ctx: GatewayContext,
    channels: Channels,
    clicked: Click,
    signed_by: set[str],
    digest: str,
    background: BackgroundTasks,
) -> Response:
    receiver = _receiver(channels, clicked.carried, signed_by)
    identity = receiver.users.get(clicked.user)
    text: str | None
    if identity is None:
        text = _not_mapped(clicked.user, receiver)
    elif clicked.claims:
        text = await _claim(ctx, receiver, identity, clicked.carried)
    elif clicked.opens_modal:
        text = await _open_modal(ctx, channels, receiver, clicked)
    else:
        text = await _answer(ctx, receiver, identity, clicked.carried, clicked.carried.data, digest)
    if text is not None and clicked.channel is not None:
        background.add_task(_tell, channels, receiver, clicked.channel, clicked.user, text)
    return Response(status_code=200)


async def _open_modal(
    ctx: GatewayContext, channels: Channels, receiver: SlackReceiver, clicked: Click
) -> str | None:
    state = await ctx.reads.load(clicked.carried.interaction_id)
    if state is None:
        return "This request is not known here (any more). Nothing was answered."
    if state.outcome is not None:
        return f"Already settled: {settled_line(state.outcome)}. Nothing was answered."
    view = modal(state.request, clicked.carried)
    try:
        await channels.slack.call(receiver, "views.open", trigger_id=clicked.trigger_id, view=view)
    except HitlError as exc:
        log.warning("views.open failed for %s: %s", receiver.name, exc)
        return f"The form could not be opened ({exc}). Try again."
    return None


async def _answer(
    ctx: GatewayContext,
    receiver: SlackReceiver,
    identity: Identity,
    carried: Carried,
    data: JsonObject,
    digest: str,
) -> str:
    what = described(carried.action, data)
    response_id = uuid5(carried.interaction_id, digest)
    try:
        status, result = await answers.submit(
            ctx, _principal(receiver, identity), carried.interaction_id, carried.action, data,
            response_id,
        )  # fmt: skip
    except TransportError:
        return "hitl could not take your answer just now. Nothing was answered; try again."
    except Problem as exc:
        return _refusal(exc, what)
    if status == 202:
        return f"Your answer ({what}) is recorded; the request waits for other answers."
    done = settled_line(result.outcome) if result.outcome else what
    return f"Done: {done}."


async def _claim(
    ctx: GatewayContext, receiver: SlackReceiver, identity: Identity, carried: Carried
) -> str:
    """The Claim button: claim it as the mapped identity, as ``POST .../claim`` does (the
    broker decides); the message is re-rendered by the notifier on the ``claimed`` event."""
    principal = _principal(receiver, identity)
    try:
        result = await claims.claim(ctx, principal, carried.interaction_id, ClaimAction.CLAIM)
    except TransportError:
        return "hitl could not take your claim just now. Nothing changed; try again."
    except Problem as exc:
        if exc.kind == "claimed" or exc.status == 403:
            return f"Not claimed: {exc.detail or exc.title}. Nothing changed."
        return _refusal(exc, "claim")
    assert result.claim is not None  # an accepted claim holds
    return f"{claim_line(result.claim)}: until then only you may answer it."


def _refusal(exc: Problem, what: str) -> str:
    if exc.status == 409 and exc.extra.get("outcome"):
        outcome = InteractionOutcome.model_validate(exc.extra["outcome"])
        return f"Already settled: {settled_line(outcome)}. Nothing was answered."
    if exc.status == 403:
        return f"You may not answer this request ({what}). Nothing was answered."
    return f"Not accepted ({what}): {exc.detail or exc.title}. Nothing was answered."


async def _submitted(
    ctx: GatewayContext,
    channels: Channels,
    payload: Mapping[str, Any],
    signed_by: set[str],
    digest: str,
) -> Response:
    sent = submission(payload)
    receiver = _receiver(channels, sent.carried, signed_by)
    first = sent.inputs[0] if sent.inputs else "answer"
    identity = receiver.users.get(sent.user)
    if identity is None:
        return _errors({first: _not_mapped(sent.user, receiver)})
    state = await ctx.reads.load(sent.carried.interaction_id)
    if state is None:
        return _errors({first: "This request is not known here (any more)."})
    form: dict[str, list[str]] = {
        **sent.form,
        "kind": [state.request.kind],
        "action": [sent.carried.action],
    }
    try:
        given = answer_from_form(state.request, form)
    except NotThisForm as exc:
        return _errors({first: str(exc)})
    what = described(given.action, given.data)
    try:
        await answers.submit(
            ctx, _principal(receiver, identity), sent.carried.interaction_id, given.action,
            given.data, uuid5(UUID(int=0), digest),
        )  # fmt: skip
    except TransportError:
        return _errors({first: "hitl could not take your answer just now; send it again."})
    except Problem as exc:
        if exc.status == 422:
            return _errors(block_errors(field_errors(exc.extra, exc.detail), sent.inputs))
        return _errors({first: _refusal(exc, what)})
    return Response(status_code=200)  # closes the modal; the message is updated when decided


def _errors(errors: dict[str, str]) -> Response:
    return JSONResponse({"response_action": "errors", "errors": errors})


async def _tell(
    channels: Channels, receiver: SlackReceiver, channel: str, user: str, text: str
) -> None:
    """A message only ``user`` sees, under the message they clicked."""
    try:
        await channels.slack.call(
            receiver, "chat.postEphemeral", channel=channel, user=user, text=text
        )
    except HitlError as exc:
        log.warning("could not tell Slack user %s (%s): %s", user, receiver.name, exc)
