"""Durations as people write them in config: ``90s``, ``30m``, ``1h30m``, ``2d``, or seconds."""

import re
from typing import Annotated

from pydantic import BeforeValidator, WithJsonSchema

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_WHAT = "a duration is a number of seconds or text like 90s, 30m, 1h30m, 2d"
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: object) -> float:
    """Raises ValueError, which pydantic reports at the field (a TypeError it would not)."""
    if isinstance(value, bool):
        raise ValueError(_WHAT)  # noqa: TRY004
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and value.strip():
        text = value.strip().replace(" ", "")
        parts = _PART.findall(text)
        if "".join(n + u for n, u in parts) != text:
            raise ValueError(f"{value!r} is not a duration; write 90s, 30m, 1h30m, 2d or seconds")
        seconds = sum(float(n) * _UNIT[u] for n, u in parts)
    else:
        raise ValueError(_WHAT)
    if seconds <= 0:
        raise ValueError(f"{value!r}: a duration must be more than zero")
    return seconds


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0},
                {"type": "string", "pattern": r"^\s*(\d+(\.\d+)?\s*(ms|s|m|h|d|w)\s*)+$"},
            ],
            "description": "Seconds, or text like 90s, 30m, 1h30m, 2d.",
        }
    ),
]
