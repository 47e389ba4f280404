"""The subject and the text and HTML bodies of an email notification and of the mail that says
it is settled. The HTML is a Jinja2 template with autoescaping: every value from a request
(prompt, options, content, context) is text in the mail, never markup; the text body is the
same content without markup. Styles are inline attributes, as mail clients read them."""

from dataclasses import dataclass
from datetime import datetime

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from hitl.notifiers.showing import Section, cut, sections
from hitl_contract import InteractionOutcome, Notification, NotifyReason

_html = Environment(
    loader=PackageLoader("hitl.notifiers.email", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_text = Environment(
    loader=PackageLoader("hitl.notifiers.email", "templates"),
    autoescape=False,  # noqa: S701 - plain text bodies: nothing is markup there
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_SUBJECT = 90
_REASONS = {NotifyReason.REMINDER: "Reminder: ", NotifyReason.ESCALATION: "Escalated: "}


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    url: str
    style: str | None = None  # primary, danger


@dataclass(frozen=True, slots=True)
class Links:
    """The answers a mail offers: one click (a signed link each), typed (the inbox page)."""

    one_click: list[Button]
    typed: list[Button]
    inbox: str  # the interaction's page in the inbox
    expires: datetime


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str


def notice(note: Notification, prefix: str, links: Links) -> Rendered:
    request = note.request
    headline = " ".join(request.prompt.split())
    subject = _subject(prefix, _REASONS.get(note.reason, "") + headline)
    values = {
        "note": note,
        "request": request,
        "prompt": cut(request.prompt),
        "sections": sections(request),
        "links": links,
        "deadline": note.deadline,
    }
    return Rendered(subject, _text.get_template("notice.txt").render(values),
                    _html.get_template("notice.html").render(values))  # fmt: skip


def settled(outcome: InteractionOutcome, prefix: str, inbox: str) -> Rendered:
    line = settled_line(outcome)
    values = {"outcome": outcome, "line": line, "inbox": inbox}
    return Rendered(_subject(prefix, f"Settled: {line}"),
                    _text.get_template("settled.txt").render(values),
                    _html.get_template("settled.html").render(values))  # fmt: skip


def settled_line(outcome: InteractionOutcome) -> str:
    """ "approved by ana@example.com at 2026-12-01 17:03 UTC" and the like."""
    who = outcome.decided_by
    if who.identity is not None:
        by = who.identity.display_name or who.identity.id
    else:
        by = {"timeout": "the timeout", "policy": f"policy {who.policy}"}.get(who.type, who.type)
    what = {
        "resolved": _verb(outcome.action),
        "cancelled": "cancelled",
        "timed_out": "timed out",
    }[outcome.status.value]
    at = outcome.resolved_at.strftime("%Y-%m-%d %H:%M UTC")
    via = f" via {who.channel}" if who.channel else ""
    return (
        f"{what} by {by}{via} at {at}"
        if outcome.status.value != "timed_out"
        else (f"timed out at {at}")
    )


def _verb(action: str) -> str:
    return {
        "approve": "approved",
        "reject": "rejected",
        "choose": "chosen",
        "respond": "answered",
        "edit": "edited",
        "submit": "submitted",
        "proceed": "proceeded",
        "revise": "sent back to revise",
        "refine": "sent back to refine",
        "answer": "answered",
        "decide": "decided",
        "end": "ended",
        "best_judgement": "left to best judgement",
    }.get(action, action)


def _subject(prefix: str, text: str) -> str:
    flat = " ".join(text.split())
    if len(flat) > _SUBJECT:
        flat = flat[: _SUBJECT - 1].rstrip() + "…"
    return f"{prefix} {flat}".strip()


__all__ = ["Button", "Links", "Rendered", "Section", "notice", "settled", "settled_line"]
