"""What a person sees of a request before answering, per kind (seed 002's panels): the prompt,
then the summary and path, the content preview, the validation report, highlights and
potential issues, the options, the items."""

from collections.abc import Sequence

import orjson
from rich.console import Group, RenderableType
from rich.markdown import Markdown
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from hitl.cli.common import out
from hitl_contract import (
    BatchRequest,
    ChoiceRequest,
    ConfirmationRequest,
    ConversationRequest,
    EditRequest,
    FormRequest,
    InteractionRequest,
    PreviewRequest,
    ValidationRequest,
)


def show(request: InteractionRequest) -> None:
    title = f"{request.kind}: {request.thread_id}" + (
        f" / {request.node_name}" if request.node_name else ""
    )
    parts: list[RenderableType] = [Text(request.prompt)]
    if request.context:
        parts.append(
            Text(orjson.dumps(request.context, option=orjson.OPT_INDENT_2).decode(), style="dim")
        )
    out.print(Panel(Group(*parts), title=title, title_align="left"))
    body = _body(request)
    if body is not None:
        out.print(body)


def _body(request: InteractionRequest) -> RenderableType | None:  # noqa: C901 - one case per kind
    if isinstance(request, ConfirmationRequest):
        lines = [request.summary]
        if request.path:
            lines += ["", "Proposed path:", request.path]
        if request.key_assumptions:
            lines += ["", "Key assumptions:", *(f"  • {a}" for a in request.key_assumptions)]
        if request.confidence is not None:
            lines += ["", f"Confidence: {request.confidence:.0%}"]
        return Panel(Text("\n".join(lines)), title="Understanding Summary", title_align="left")
    if isinstance(request, PreviewRequest):
        return Group(
            Panel(Markdown(request.content), title="Content Preview", title_align="left"),
            *_bullets("Highlights", request.highlights),
            *_bullets("Potential issues", request.potential_issues),
        )
    if isinstance(request, ValidationRequest):
        lines = [request.report]
        if request.validation_score is not None:
            lines += ["", f"Validation Score: {request.validation_score:.2f}"]
        status = "PASSED" if request.passed else "FAILED"
        return Panel(
            Text("\n".join(lines)), title=f"Validation Report ({status})", title_align="left"
        )
    if isinstance(request, EditRequest):
        return Panel(Text(request.content), title="Content to edit", title_align="left")
    if isinstance(request, ChoiceRequest):
        return Text("\n".join(f"  {i}. {o}" for i, o in enumerate(request.options, 1)))
    if isinstance(request, ConversationRequest) and request.transcript:
        return Text("\n".join(f"{t.role}: {t.text}" for t in request.transcript), style="dim")
    if isinstance(request, BatchRequest):
        table = Table("ID", "ITEM", "DETAILS", box=None, pad_edge=False)
        for item in request.items:
            table.add_row(
                item.id, item.title, orjson.dumps(item.details).decode() if item.details else ""
            )
        return table
    if isinstance(request, FormRequest):
        return Text(
            f"{len(request.fields)} fields; empty input keeps a field's default", style="dim"
        )
    return None


def _bullets(title: str, items: Sequence[str]) -> list[RenderableType]:
    if not items:
        return []
    return [Text(f"{title}:", style="bold"), Text("\n".join(f"  • {i}" for i in items))]


def question(number: int, total: int, text: str, rationale: str | None) -> None:
    body = Text(text) if not rationale else Group(Text(text), Text(rationale, style="dim"))
    out.print(Panel(body, title=f"Question {number}/{total}"))
