"""W3C Trace Context (https://www.w3.org/TR/trace-context/): reading ``traceparent`` and
``tracestate`` as they come in, and writing them for the next hop. Pure: no I/O, no
OpenTelemetry (``hitl.observability.tracing`` makes spans when it is installed).

A context that is not well formed is not an error: ``parse`` says what is wrong with it and
the caller logs that at debug level and carries on without one, as the recommendation asks
("the vendor MUST ignore the traceparent"). Parsing is one length check and one match of a
compiled pattern, done once where a message comes in; from there the header strings are passed
on unchanged, which is what a hop that makes no spans of its own must do.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "TRACEPARENT", "TRACESTATE", "TraceContext", "child", "from_headers", "parse",
]  # fmt: skip

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
# version "00": exactly 55 characters. A later version may append fields after a "-"; its
# first four fields are read as version 00's (section 4.3, "Versioning of traceparent").
_FIELDS = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
# What nearly every producer sends: version 00 as it is to be passed on, ids not all zeros.
# One match of it stands for every check below (the fast path: no strip, no groups).
_CANONICAL = re.compile(r"00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}")
_LENGTH = 55
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16
# tracestate: at most 32 list members; 512 characters is what a vendor must pass on at least
# (section 3.3.1.5); a longer one, or one with characters outside printable ASCII, is dropped.
_MAX_STATE = 512
_MAX_MEMBERS = 32


@dataclass(frozen=True, slots=True)
class TraceContext:
    """A valid context, as header values: ``traceparent`` in version 00's form."""

    traceparent: str
    tracestate: str = ""

    @property
    def trace_id(self) -> str:
        return self.traceparent[3:35]

    @property
    def parent_id(self) -> str:
        return self.traceparent[36:52]

    @property
    def sampled(self) -> bool:
        return bool(int(self.traceparent[53:55], 16) & 1)

    def headers(self) -> dict[str, str]:
        """The headers that carry it to the next hop (AMQP message headers, HTTP headers)."""
        if self.tracestate:
            return {TRACEPARENT: self.traceparent, TRACESTATE: self.tracestate}
        return {TRACEPARENT: self.traceparent}


def parse(traceparent: object, tracestate: object = None) -> tuple[TraceContext | None, str]:
    """The context these header values carry, or None and what is wrong with them (empty when
    there was no ``traceparent``). A bad ``tracestate`` beside a good ``traceparent`` is
    dropped alone (section 3.3.1.5); the reason is returned with the context."""
    if traceparent is None:
        return None, ""
    if tracestate is None and type(traceparent) is str and _CANONICAL.fullmatch(traceparent):
        return TraceContext(traceparent), ""
    if not isinstance(traceparent, str):
        return None, f"traceparent is a {type(traceparent).__name__}, not text"
    value = traceparent.strip(" \t")
    match = _FIELDS.match(value)
    if match is None:
        return None, f"traceparent {value[:80]!r} is not version-traceid-parentid-flags in hex"
    version, trace_id, span_id, flags = match.groups()
    if version == "ff":
        return None, "traceparent version ff is invalid"
    if len(value) != _LENGTH and (version == "00" or value[_LENGTH : _LENGTH + 1] != "-"):
        return None, f"traceparent {value[:80]!r} is {len(value)} characters, not {_LENGTH}"
    if trace_id == _ZERO_TRACE:
        return None, "traceparent's trace-id is all zeros"
    if span_id == _ZERO_SPAN:
        return None, "traceparent's parent-id is all zeros"
    if version != "00":
        value = f"00-{trace_id}-{span_id}-{flags}"
    state, problem = _state(tracestate)
    return TraceContext(value, state), problem


def from_headers(headers: Mapping[str, object] | None) -> tuple[TraceContext | None, str]:
    """``parse`` of a message's ``traceparent`` and ``tracestate`` headers (names in lower
    case, as the recommendation writes them and hitl sends them)."""
    if not headers:
        return None, ""
    traceparent = headers.get(TRACEPARENT)
    if traceparent is None:
        return None, ""
    return parse(traceparent, headers.get(TRACESTATE))


def child(parent: TraceContext | None, trace_id: str, span_id: str, sampled: bool) -> TraceContext:
    """The context a new span passes on: its own ids, the parent's ``tracestate``."""
    flags = "01" if sampled else "00"
    return TraceContext(f"00-{trace_id}-{span_id}-{flags}", parent.tracestate if parent else "")


def _state(tracestate: object) -> tuple[str, str]:
    if tracestate is None or tracestate == "":
        return "", ""
    if not isinstance(tracestate, str):
        return "", f"tracestate is a {type(tracestate).__name__}, not text; dropped"
    if len(tracestate) > _MAX_STATE:
        return "", f"tracestate is {len(tracestate)} characters, over {_MAX_STATE}; dropped"
    if not (tracestate.isascii() and tracestate.isprintable()):
        return "", "tracestate has characters outside printable ASCII; dropped"
    members = [m.strip(" \t") for m in tracestate.split(",")]
    members = [m for m in members if m]
    if len(members) > _MAX_MEMBERS or any("=" not in m for m in members):
        return "", "tracestate is not a list of at most 32 key=value members; dropped"
    return ",".join(members), ""
