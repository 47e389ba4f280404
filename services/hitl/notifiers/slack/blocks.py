"""Block Kit per kind: the message a Slack receiver gets (the prompt, what the kind shows,
buttons for one-click answers and for the answers typed in a modal), the same message once
settled (the buttons replaced by who decided and when), and the modal of a typed answer.

Every modal input's ``block_id`` is the path of its value in the answer's data
(``data.feedback``, ``data.answers.<field>``): the gateway reads the submitted values by it,
and the broker's errors, which name those paths, are shown under the inputs they belong to.
Text from a request is escaped for mrkdwn (``&``, ``<``, ``>``), so it never becomes a link,
a mention or markup.
"""

from typing import Any

from hitl.notifiers.answers import one_click, typed
from hitl.notifiers.email.render import settled_line
from hitl.notifiers.showing import cut, sections
from hitl.notifiers.slack.values import ANSWER, CLAIM, TYPE, Carried, encode
from hitl_contract import (
    ChoiceRequest,
    Claim,
    EditRequest,
    FormField,
    FormRequest,
    InteractionOutcome,
    InteractionRequest,
    Notification,
    NotifyReason,
    TextInputRequest,
)

Block = dict[str, Any]
MAX_INPUT = 3000  # Slack's limit on a plain_text_input's value
MODAL_KINDS = ("text_input", "edit", "form", "choice", "confirmation", "preview", "validation")


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def message(
    note: Notification,
    receiver: str,
    *,
    interactive: bool,
    inbox: str | None,
    claim: Claim | None = None,
) -> tuple[str, list[Block]]:
    """(the notification's fallback text, its blocks), with who holds ``claim`` when one
    holds (the message re-rendered on a claim or release)."""
    request = note.request
    lead = {NotifyReason.REMINDER: "Reminder: ", NotifyReason.ESCALATION: "Escalated: "}
    asker = request.requester.display_name or request.requester.id
    text = f"{lead.get(note.reason, '')}{asker} asks: {' '.join(request.prompt.split())}"[:3000]
    head = f"*{escape(lead.get(note.reason, '') + asker)}* asks ({request.kind}):"
    blocks: list[Block] = [_section(f"{head}\n{escape(cut(request.prompt, 2800))}")]
    for s in sections(request):
        body = f"```{escape(s.text)}```" if s.code and s.text else escape(s.text or "")
        items = "\n".join(f"• {escape(i)}" for i in s.items)
        blocks.append(_section(f"*{escape(s.title)}*\n" + "\n".join(x for x in (body, items) if x)))
    buttons = _buttons(request, receiver, inbox) if interactive else _inbox_button(inbox)
    if buttons:
        blocks.append({"type": "actions", "block_id": "hitl-actions", "elements": buttons})
    if claim is not None:
        blocks.append({"type": "context", "block_id": "hitl-claim", "elements": [
            {"type": "mrkdwn", "text": f":lock: {escape(claim_line(claim))}"}]})  # fmt: skip
    blocks.append(_context(request, note))
    return text, blocks


def claim_line(claim: Claim) -> str:
    """``Claimed by Ana (ana) until 2025-01-01 12:00 UTC`` (``for team ops``, a team's)."""
    who = claim.holder
    name = f"{who.display_name} ({who.id})" if who.display_name else who.id
    team = f" for team {claim.team}" if claim.team is not None else ""
    return f"Claimed by {name}{team} until {claim.until.strftime('%Y-%m-%d %H:%M UTC')}"


def settled(note_text: str, outcome: InteractionOutcome) -> tuple[str, list[Block]]:
    line = settled_line(outcome)
    return f"Settled: {line}", [
        _section(escape(note_text[:2900])),
        {"type": "context", "elements": [
            {"type": "mrkdwn", "text": f":white_check_mark: *Settled:* {escape(line)}"}]},
    ]  # fmt: skip


def _buttons(request: InteractionRequest, receiver: str, inbox: str | None) -> list[Block]:
    """The answers' buttons, then Claim (Slack takes 25 elements in an actions block)."""
    return [*_answer_buttons(request, receiver, inbox)[:24], _claim_button(request, receiver)]


def _answer_buttons(request: InteractionRequest, receiver: str, inbox: str | None) -> list[Block]:
    iid = request.id
    out: list[Block] = []
    for n, o in enumerate(one_click(request)):
        button: Block = {
            "type": "button", "action_id": f"{ANSWER}:{n}",
            "text": {"type": "plain_text", "text": o.label[:75], "emoji": True},
            "value": encode(Carried(iid, receiver, o.action, o.data)),
        }  # fmt: skip
        if o.style:
            button["style"] = o.style
        out.append(button)
    for n, t in enumerate(typed(request)):
        if not in_modal(request):
            return out + _inbox_button(inbox)
        out.append({
            "type": "button", "action_id": f"{TYPE}:{n}",
            "text": {"type": "plain_text", "text": t.label[:75], "emoji": True},
            "value": encode(Carried(iid, receiver, t.action)),
        })  # fmt: skip
    return out[:25]


def _claim_button(request: InteractionRequest, receiver: str) -> Block:
    """Claim it for the one who clicks (again: renew the claim)."""
    return {"type": "button", "action_id": f"{CLAIM}:0",
            "text": {"type": "plain_text", "text": "Claim", "emoji": True},
            "value": encode(Carried(request.id, receiver, "claim"))}  # fmt: skip


def in_modal(request: InteractionRequest) -> bool:
    """Whether a typed answer to ``request`` fits a Slack modal (else: the inbox)."""
    if request.kind not in MODAL_KINDS:
        return False
    if isinstance(request, EditRequest):
        return len(request.content) <= MAX_INPUT
    if isinstance(request, ChoiceRequest):
        return len(request.options) <= 100
    return True


def _inbox_button(inbox: str | None) -> list[Block]:
    if inbox is None:
        return []
    return [{"type": "button", "action_id": "hitl-inbox", "url": inbox,
             "text": {"type": "plain_text", "text": "Open in the inbox"}}]  # fmt: skip


def _context(request: InteractionRequest, note: Notification) -> Block:
    parts = [f"{request.kind} `{request.id}`", f"thread {escape(request.thread_id[:200])}"]
    if note.deadline is not None:
        parts.append(f"answer by {note.deadline.strftime('%Y-%m-%d %H:%M UTC')}")
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(parts)}]}


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def modal(request: InteractionRequest, carried: Carried) -> dict[str, Any]:
    """The modal to type ``carried.action``'s answer in."""
    inputs = _inputs(request, carried.action)
    return {
        "type": "modal",
        "callback_id": "hitl-answer",
        "private_metadata": encode(carried),
        "title": {"type": "plain_text", "text": carried.action.capitalize()[:24]},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [_section(escape(cut(request.prompt, 2900))), *inputs],
    }


def _inputs(request: InteractionRequest, action: str) -> list[Block]:
    if isinstance(request, TextInputRequest):
        if request.fields is None:
            return [_text("data.text", "Your answer", multiline=True)]
        return [_text(f"data.{f.name}", f.label or f.name, optional=not f.required,
                      max_length=min(f.max_length, MAX_INPUT)) for f in request.fields]  # fmt: skip
    if isinstance(request, EditRequest):
        return [
            _text("data.edited", "Edited content", multiline=True, initial=request.content),
            _text("data.note", "Note", optional=True),
        ]
    if isinstance(request, FormRequest):
        return [_field(f) for f in request.fields]
    if isinstance(request, ChoiceRequest):
        options = [_option(o, str(n)) for n, o in enumerate(request.options, start=1)]
        name = "data.choices" if request.multiple else "data.choice"
        kind = "multi_static_select" if request.multiple else "static_select"
        picked = _input(name, "Choose", {"type": kind, "options": options},
                        optional=request.allow_other)  # fmt: skip
        other = [_text("data.other", "Other", optional=True)] if request.allow_other else []
        return [picked, *other]
    return [_text("data.feedback", "What should change?", multiline=True)]


def _field(f: FormField) -> Block:
    label, name, optional = f.label or f.name, f"data.answers.{f.name}", not f.required
    if f.type in ("number", "integer"):
        element: Block = {"type": "number_input", "is_decimal_allowed": f.type == "number"}
        return _input(name, label, element, optional=optional)
    if f.type == "enum":
        options = [_option(o, o) for o in f.options or []][:100]
        return _input(name, label, {"type": "static_select", "options": options}, optional=optional)
    if f.type == "boolean":
        options = [_option("Yes", "true"), _option("No", "false")]
        return _input(name, label, {"type": "static_select", "options": options}, optional=optional)
    if f.type == "date":
        return _input(name, label, {"type": "datepicker"}, optional=optional)
    limit = min(f.max_length or MAX_INPUT, MAX_INPUT)
    return _text(name, label, multiline=f.type == "text", optional=optional, max_length=limit)


def _text(
    name: str,
    label: str,
    *,
    multiline: bool = False,
    optional: bool = False,
    initial: str | None = None,
    max_length: int = MAX_INPUT,
) -> Block:
    element: Block = {"type": "plain_text_input", "multiline": multiline,
                      "max_length": max_length}  # fmt: skip
    if initial:
        element["initial_value"] = initial
    return _input(name, label, element, optional=optional)


def _input(name: str, label: str, element: Block, *, optional: bool = False) -> Block:
    return {
        "type": "input",
        "block_id": name,
        "optional": optional,
        "label": {"type": "plain_text", "text": label[:2000]},
        "element": {**element, "action_id": "value"},
    }


def _option(text: str, value: str) -> Block:
    return {"text": {"type": "plain_text", "text": text[:75]}, "value": value[:150]}
