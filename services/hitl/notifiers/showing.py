"""What a request shows people besides its prompt, per kind, as plain sections: shared by the
channels that render it (email bodies, Slack blocks), each escaping for its own format.

Long content is cut (``MAX_TEXT`` characters, ``MAX_ITEMS`` items) with a note that says so:
the whole request is one click away in the inbox.
"""

from dataclasses import dataclass, field

import orjson
from pydantic import JsonValue

from hitl_contract import (
    BatchRequest,
    ChoiceRequest,
    ClarifyRequest,
    ConfirmationRequest,
    ConversationRequest,
    EditRequest,
    FormRequest,
    InteractionRequest,
    PreviewRequest,
    TextInputRequest,
    ValidationRequest,
)

MAX_TEXT = 2500
MAX_ITEMS = 25
MAX_CONTEXT = 12


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    text: str | None = None
    items: list[str] = field(default_factory=list)
    code: bool = False  # text shown as it is, in a fixed-width font


def sections(request: InteractionRequest) -> list[Section]:
    shown = _by_kind(request)
    context = [f"{k}: {_scalar(v)}" for k, v in list(request.context.items())[:MAX_CONTEXT]]
    if context:
        shown.append(Section("Context", items=_cut_list(context, len(request.context))))
    return [s for s in shown if s.text or s.items]


def cut(text: str, limit: int = MAX_TEXT) -> str:
    if len(text) <= limit:
        return text
    return text[:limit].rstrip() + f"\n… ({len(text) - limit} more characters in the inbox)"


def _by_kind(request: InteractionRequest) -> list[Section]:  # noqa: C901 - one per kind
    if isinstance(request, ChoiceRequest):
        options = [f"{n}. {o}" for n, o in enumerate(request.options, start=1)]
        how = "Choose several" if request.multiple else "Choose one"
        return [Section(how, items=_cut_list(options[:MAX_ITEMS], len(options)))]
    if isinstance(request, TextInputRequest):
        named = [f"{f.label or f.name}" + ("" if f.required else " (optional)")
                 for f in request.fields or []]  # fmt: skip
        return [Section("Fields", items=named)] if named else []
    if isinstance(request, EditRequest):
        return [Section("Content", cut(request.content), code=True)]
    if isinstance(request, ConversationRequest):
        turns = [f"{t.role}: {t.text}" for t in request.transcript[-5:]]
        return [Section("Earlier", items=[cut(t, 500) for t in turns])]
    if isinstance(request, FormRequest):
        fields = [f"{f.label or f.name} ({f.type}{', required' if f.required else ''})"
                  for f in request.fields]  # fmt: skip
        return [Section("Fields", items=_cut_list(fields[:MAX_ITEMS], len(fields)))]
    if isinstance(request, ClarifyRequest):
        questions = [f"{n}. {q.question}" for n, q in enumerate(request.questions, start=1)]
        return [Section("Questions", items=_cut_list(questions[:MAX_ITEMS], len(questions)))]
    if isinstance(request, ConfirmationRequest):
        return [
            Section("Summary", cut(request.summary)),
            Section("Assumptions", items=request.key_assumptions[:MAX_ITEMS]),
        ]
    if isinstance(request, PreviewRequest):
        return [
            Section("Preview", cut(request.content), code=True),
            Section("Highlights", items=request.highlights[:MAX_ITEMS]),
            Section("Potential issues", items=request.potential_issues[:MAX_ITEMS]),
        ]
    if isinstance(request, ValidationRequest):
        verdict = "passed" if request.passed else "failed"
        return [Section(f"Validation report ({verdict})", cut(request.report), code=True)]
    if isinstance(request, BatchRequest):
        items = [f"{item.id}: {item.title}" for item in request.items]
        return [Section("Items", items=_cut_list(items[:MAX_ITEMS], len(items)))]
    return []


def _cut_list(items: list[str], total: int) -> list[str]:
    left = total - len(items)
    return [*items, f"… and {left} more in the inbox"] if left > 0 else items


def _scalar(value: JsonValue) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return cut(text, 200)
