"""Answer rules of the kinds that pick among given things: choice, clarify, batch."""

from datetime import datetime
from typing import Any

from pydantic import JsonValue

from hitl.core.rules.checks import anything, invalid, is_int, mapping, note, only, text
from hitl_contract import BatchRequest, ChoiceRequest, ClarifyRequest, HumanResponse, JsonObject


def choice(request: Any, response: HumanResponse, at: datetime) -> JsonObject:
    assert isinstance(request, ChoiceRequest)
    data = only(
        response.data,
        {
            "choice": anything,
            "choices": anything,
            "other": text(),
            "justification": note,
            "feedback": note,
        },
    )
    other = data.pop("other", None)
    if other is not None and not request.allow_other:
        raise invalid(
            "data.other",
            "this choice does not accept a free-text answer",
            _numbered(request.options),
            other,
        )
    picked = _picked(request, data)
    numbers = [_option_number(request.options, value, path) for path, value in picked]
    if len(set(numbers)) != len(numbers):
        raise invalid("data.choices", "an option is chosen twice", None, [v for _, v in picked])
    count = len(numbers) + (1 if other is not None else 0)
    low, high = _limits(request)
    if not low <= count <= high:
        wanted = f"exactly {low}" if low == high else f"{low}..{high}"
        raise invalid(
            "data.choices" if request.multiple else "data.choice",
            f"choose {wanted} option(s); got {count}",
            _numbered(request.options),
            [v for _, v in picked],
        )
    if request.multiple:
        data["choices"] = list[JsonValue](numbers)
        data["values"] = [request.options[n - 1] for n in numbers]
    else:
        data["choice"] = numbers[0] if numbers else None
        if numbers:
            data["value"] = request.options[numbers[0] - 1]
    if other is not None:
        data["other"] = other
    return data


def _picked(request: ChoiceRequest, data: JsonObject) -> list[tuple[str, JsonValue]]:
    if request.multiple:
        raw = data.pop("choices", data.pop("choice", None))
        values = raw if isinstance(raw, list) else ([] if raw is None else [raw])
        return [(f"data.choices[{n}]", v) for n, v in enumerate(values)]
    if "choices" in data:
        raise invalid(
            "data.choices",
            "this choice takes one answer: send 'choice'",
            ["choice"],
            data["choices"],
        )
    value = data.pop("choice", None)
    return [] if value is None else [("data.choice", value)]


def _limits(request: ChoiceRequest) -> tuple[int, int]:
    if not request.multiple:
        return 1, 1
    return request.min_selections, request.max_selections or len(request.options) + 1


def _option_number(options: list[str], value: JsonValue, path: str) -> int:
    if is_int(value) and 1 <= value <= len(options):  # type: ignore[operator]
        return value  # type: ignore[return-value]
    if isinstance(value, str) and value in options:
        return options.index(value) + 1
    raise invalid(
        path,
        f"must be an option number 1..{len(options)} or one of the values",
        _numbered(options),
        value,
    )


def _numbered(options: list[str]) -> list[str]:
    return [f"{n}: {option}" for n, option in enumerate(options, start=1)]


def clarify(request: Any, response: HumanResponse, at: datetime) -> JsonObject:
    assert isinstance(request, ClarifyRequest)
    answers = mapping(
        "data.answers", only(response.data, {"answers": anything}, required=["answers"])["answers"]
    )
    keys = {q.key or str(n): n for n, q in enumerate(request.questions, start=1)}
    keys.update({str(n): n for n in range(1, len(request.questions) + 1)})
    out: dict[str, JsonValue] = {}
    free = answers.get("response")
    if free is not None:
        out["response"] = text()("data.answers.response", free)
    for key, value in answers.items():
        if key == "response":
            continue
        if key not in keys:
            raise invalid(
                f"data.answers.{key}", "no question has this key or number", sorted(keys), value
            )
        question = request.questions[keys[key] - 1]
        name = question.key or str(keys[key])
        if is_int(value) and question.options:
            out[name] = question.options[
                _option_number(question.options, value, f"data.answers.{key}") - 1
            ]
        else:  # free text, also for questions with options ("Other (type my own)")
            out[name] = text()(f"data.answers.{key}", value)
    if free is None:
        missing = [
            q.key or str(n)
            for n, q in enumerate(request.questions, start=1)
            if (q.key or str(n)) not in out
        ]
        if missing:
            raise invalid(
                f"data.answers.{missing[0]}",
                "this question has no answer (answer each, or give one free-form 'response')",
                sorted(keys),
                None,
            )
    return {"answers": out}


def batch(request: Any, response: HumanResponse, at: datetime) -> JsonObject:
    assert isinstance(request, BatchRequest)
    data = only(response.data, {"all": anything, "decisions": anything, "notes": anything})
    ids = [item.id for item in request.items]
    allowed = request.item_actions
    default = data.get("all")
    if default is not None and default not in allowed:
        raise invalid("data.all", "not an item action", allowed, default)
    per_item = mapping("data.decisions", data.get("decisions", {}))
    for item_id, action in per_item.items():
        if item_id not in ids:
            raise invalid(f"data.decisions.{item_id}", "no item has this id", ids, action)
        if action not in allowed:
            raise invalid(f"data.decisions.{item_id}", "not an item action", allowed, action)
    decisions = {item_id: per_item.get(item_id, default) for item_id in ids}
    undecided = [item_id for item_id, action in decisions.items() if action is None]
    if undecided:
        raise invalid(
            f"data.decisions.{undecided[0]}",
            "every item needs a decision: give 'all', or one per item",
            allowed,
            None,
        )
    out: JsonObject = {"decisions": decisions}
    if "notes" in data:
        notes = mapping("data.notes", data["notes"])
        for item_id, value in notes.items():
            if item_id not in ids:
                raise invalid(f"data.notes.{item_id}", "no item has this id", ids, value)
            note(f"data.notes.{item_id}", value)
        out["notes"] = notes
    return out
