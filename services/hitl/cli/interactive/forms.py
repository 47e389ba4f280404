"""A form's fields asked one at a time, typed: a number must parse, a boolean is yes/no, an enum
is picked from its options; empty input keeps the default, or skips an optional field. The
broker judges the limits; when it refuses, the field at fault is asked again with its message."""

from datetime import date

from pydantic import JsonValue

from hitl.cli.interactive.prompter import Prompter
from hitl_contract import FormField, FormRequest


async def ask_field(spec: FormField, prompter: Prompter, current: JsonValue) -> JsonValue:
    """The field's value, or None to leave it out (optional, no default)."""
    name = spec.label or spec.name
    if spec.type == "enum" and spec.options:
        got = await prompter.select(f"{name}:", [str(o) for o in spec.options])
        return spec.options[got] if isinstance(got, int) else got
    if spec.type == "boolean":
        got = await prompter.select(f"{name}:", ["yes", "no"])
        return got == 0
    shown = current if current is not None else spec.default
    hint = _hint(spec)
    while True:
        text = (await prompter.text(f"{name}{hint}: ", default=_text(shown))).strip()
        if not text:
            if spec.required:
                prompter.say(f"{name} is required")
                continue
            return None
        try:
            return parse(spec, text)
        except ValueError as exc:
            prompter.say(f"{name}: {exc}")


def parse(spec: FormField, text: str) -> JsonValue:
    if spec.type == "integer":
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a whole number") from None
    if spec.type == "number":
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a number") from None
    if spec.type == "date":
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)") from None
    return text


def field_at_fault(request: FormRequest, path: str | None) -> FormField | None:
    """The field a refusal's path (``data.answers.<name>``) points at."""
    prefix = "data.answers."
    if not path or not path.startswith(prefix):
        return None
    name = path.removeprefix(prefix).split(".", 1)[0].split("[", 1)[0]
    return next((f for f in request.fields if f.name == name), None)


def _hint(spec: FormField) -> str:
    bits: list[str] = [spec.type]
    if spec.minimum is not None or spec.maximum is not None:
        bits.append(f"{_text(spec.minimum) or '…'}-{_text(spec.maximum) or '…'}")
    if spec.type == "date":
        bits.append("YYYY-MM-DD")
    if not spec.required:
        bits.append("optional")
    return f" ({', '.join(bits)})"


def _text(value: JsonValue) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
