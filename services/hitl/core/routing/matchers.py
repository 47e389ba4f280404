"""Matchers: ``name = value``, ``name != value``, ``name =~ regex``, ``name !~ regex``.

``name`` is a request field (``kind``, ``node_name``, ``requester``, ``thread``) or a label
(``labels.team``, or just ``team`` when no field has that name). Regexes match the whole value,
as in Alertmanager. A value may be quoted ("..." with backslash escapes) to hold spaces or
operators. A field or label the request does not have matches as the empty string, so
``team != ""`` means "has a team label".
"""

import json
import re
from dataclasses import dataclass
from typing import Literal

FIELDS = ("kind", "node_name", "requester", "thread")
Operator = Literal["=", "!=", "=~", "!~"]
_SYNTAX = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.\-/]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$", re.DOTALL)


class MatcherError(ValueError):
    """A matcher that cannot be read; the message says what is wrong and what is allowed."""


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str  # a field name, or "labels.<label>"
    op: Operator
    value: str
    pattern: re.Pattern[str] | None = None

    def matches(self, fields: dict[str, str], labels: dict[str, str]) -> bool:
        if self.name.startswith("labels."):
            have = labels.get(self.name.removeprefix("labels."), "")
        else:
            have = fields.get(self.name, "")
        if self.pattern is not None:
            return (self.pattern.fullmatch(have) is not None) == (self.op == "=~")
        return (have == self.value) == (self.op == "=")

    def __str__(self) -> str:
        return f"{self.name}{self.op}{json.dumps(self.value)}"


def parse_matcher(text: str) -> Matcher:
    found = _SYNTAX.match(text)
    if found is None:
        raise MatcherError(
            f"{text!r} is not a matcher; write name=value, name!=value, name=~regex or "
            'name!~regex (e.g. kind=approval, team=~"fin.*")'
        )
    name, op, raw = found.groups()
    value = _unquote(raw, text)
    if name not in FIELDS and not name.startswith("labels."):
        name = f"labels.{name}"
    if name == "labels.":
        raise MatcherError(f"{text!r}: 'labels.' needs a label name after it")
    pattern = None
    if op in ("=~", "!~"):
        try:
            pattern = re.compile(value)
        except re.error as exc:
            raise MatcherError(f"{text!r}: the regex {value!r} does not compile: {exc}") from exc
    return Matcher(name, op, value, pattern)  # type: ignore[arg-type]


def _unquote(raw: str, text: str) -> str:
    if not raw.startswith('"'):
        if '"' in raw:
            raise MatcherError(f"{text!r}: a value with quotes must be quoted as a whole")
        return raw
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise MatcherError(f"{text!r}: the quoted value is not closed or has a bad escape") from exc
    if not isinstance(value, str):
        raise MatcherError(f"{text!r}: the quoted value must be a string")
    return value
