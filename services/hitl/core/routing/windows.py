"""Time windows: when a route is active, in an IANA time zone (Alertmanager's time
intervals, reduced to what routing people ask for: weekdays and times of day).

A window is active at an instant when any of its ranges holds there: the weekday (in the
window's zone) is one of ``weekdays`` (all when empty) and the local time is in one of
``times`` (the whole day when empty), each range ``start`` inclusive to ``end`` exclusive.
``next_start`` finds when an inactive window opens, so a held notification can wait for it.
"""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SEARCH_DAYS = 8  # every weekly pattern repeats within a week


class TimeRange(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    start: time = Field(description="Local time the range opens, e.g. 09:00.")
    end: time = Field(description="Local time it closes (exclusive); 24:00 is written 23:59:59.")

    @model_validator(mode="after")
    def _ordered(self) -> "TimeRange":
        if self.end <= self.start:
            raise ValueError(f"end {self.end} must be after start {self.start}")
        return self


class WindowRange(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    weekdays: list[str] = Field(
        default_factory=list,
        description="Days, or day ranges like monday:friday; empty: every day.",
    )
    times: list[TimeRange] = Field(default_factory=list, description="Empty: the whole day.")

    @field_validator("weekdays")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        for item in value:
            for day in item.split(":"):
                if day.strip().lower() not in WEEKDAYS:
                    raise ValueError(f"{day!r} is not a weekday; use one of {list(WEEKDAYS)}")
        return value

    def days(self) -> set[int]:
        if not self.weekdays:
            return set(range(7))
        out: set[int] = set()
        for item in self.weekdays:
            first, _, last = item.lower().partition(":")
            a = WEEKDAYS.index(first.strip())
            b = WEEKDAYS.index((last or first).strip())
            out.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(b + 1)])
        return out


class TimeWindow(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=128)
    time_zone: str = Field(default="UTC", description="IANA name, e.g. Europe/Berlin.")
    ranges: list[WindowRange] = Field(min_length=1)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Berlin)") from exc
        return value

    def active(self, at: float) -> bool:
        local = datetime.fromtimestamp(at, ZoneInfo(self.time_zone))
        return any(_holds(r, local) for r in self.ranges)

    def next_start(self, at: float) -> float | None:
        """The first instant at or after ``at`` when the window is active; None if never."""
        if self.active(at):
            return at
        zone = ZoneInfo(self.time_zone)
        local = datetime.fromtimestamp(at, zone)
        best: float | None = None
        for offset in range(_SEARCH_DAYS):
            day = (local + timedelta(days=offset)).date()
            for r in self.ranges:
                if day.weekday() not in r.days():
                    continue
                for start in [t.start for t in r.times] or [time(0)]:
                    opens = datetime.combine(day, start, zone).astimezone(UTC).timestamp()
                    if opens > at and (best is None or opens < best):
                        best = opens
            if best is not None:
                return best
        return best


def _holds(r: WindowRange, local: datetime) -> bool:
    if local.weekday() not in r.days():
        return False
    now = local.time()
    return not r.times or any(t.start <= now < t.end for t in r.times)


def instant(text: str) -> float:
    """An ISO 8601 instant with its offset (2026-12-02T10:00:00+01:00, or ...Z)."""
    try:
        at = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not an ISO 8601 instant") from exc
    if at.tzinfo is None:
        raise ValueError(f"{text!r} needs a UTC offset or Z, e.g. 2026-12-02T10:00:00+01:00")
    return at.timestamp()
