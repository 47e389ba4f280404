"""The inbox's Jinja2 templates (shipped in the package, autoescaped: every value from a
request is text on the page, never markup) and the headers every page goes out with."""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from markupsafe import Markup
from starlette.responses import HTMLResponse

from hitl.gateway.inbox import display
from hitl.gateway.inbox.answering import FieldError
from hitl.gateway.templates import environment

# No inline script or style, nothing from elsewhere, no framing, forms post here only.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

_env = environment("hitl.gateway.inbox")
_env.filters.update(
    duration=display.duration,
    when=display.when,
    person=display.person,
    pretty=display.pretty,
    headline=display.headline,
    folds=display.folds,
)
_env.globals.update(
    outcome_line=display.outcome_line,
    claim_line=display.claim_line,
    decider=display.decider,
    context_entries=display.context_entries,
    diff=display.diff,
    field_id=display.field_id,
)


def render(template: str, values: Mapping[str, Any]) -> str:
    return _env.get_template(template).render(values)


def page(
    template: str,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    **values: Any,
) -> HTMLResponse:
    return HTMLResponse(
        render(template, values), status_code=status, headers={**HEADERS, **(headers or {})}
    )


class Filled:
    """What one form shows: the values a person sent (kept after a refusal) and the broker's
    errors by input name. ``prefix`` keeps the ids of forms on one page apart. Templates call
    it to fill and mark their inputs."""

    def __init__(
        self,
        sent: Mapping[str, Sequence[str]] | None = None,
        errors: Iterable[FieldError] = (),
        action: str | None = None,
        prefix: str = "",
    ) -> None:
        self.sent = sent
        self.action = action  # the action of the post that was refused
        self.prefix = prefix
        self.listed = list(errors)
        self.errors: dict[str, str] = {}
        for error in self.listed:
            self.errors.setdefault(error.name, error.message)

    def part(self, actions: Iterable[str], prefix: str) -> "Filled":
        """The form of ``actions``: what was sent if the refused post was one of them, else
        a fresh form."""
        if self.action in tuple(actions):
            return Filled(self.sent, self.listed, self.action, prefix)
        return Filled(prefix=prefix)

    def id(self, name: str) -> str:
        return self.prefix + display.field_id(name)

    def value(self, name: str, default: Any = "") -> str:
        """The sent value, or ``default`` when the form is fresh."""
        if self.sent is None:
            return "" if default is None else str(default)
        values = self.sent.get(name)
        return values[0] if values else ""

    def chosen(self, name: str, value: str, default: bool = False) -> bool:
        if self.sent is None:
            return default
        return value in self.sent.get(name, ())

    def error(self, name: str) -> str | None:
        return self.errors.get(name)

    def aria(self, name: str, hint: bool = False) -> Markup:
        """The attributes tying an input to its hint and error."""
        ident = self.id(name)
        described = [f"{ident}-hint"] if hint else []
        attrs = ""
        if name in self.errors:
            described.append(f"{ident}-error")
            attrs = ' aria-invalid="true"'
        if described:
            attrs += f' aria-describedby="{" ".join(described)}"'
        return Markup(attrs)  # noqa: S704 - ids are [A-Za-z0-9_-] only (display.field_id)
