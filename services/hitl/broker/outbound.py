"""Turning a transition's commands into the AMQP messages that carry them, and back from the
outbox. Message ids are stable (``outcome:<id>``...), so a consumer can drop the rare duplicate
that a crash between publish and outbox cleanup produces."""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import orjson

from hitl.core.machine import Deliver, Emit, Notify, Transition
from hitl.ports import Envelope, Headers
from hitl_contract import SCHEMA_VERSION, LifecycleEvent, Notification
from hitl_contract.wire import (
    EVENT_TYPE,
    NOTIFICATION_TYPE,
    OUTCOME_TYPE,
    Names,
    encode_model,
    event_key,
    notification_key,
    notification_message_id,
    outcome_key,
    outcome_message_id,
)

_NONE: Headers = {}  # no headers (never written to)


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    envelope: Envelope
    critical: bool  # unroutable means nobody can ever learn it: dead-letter a copy
    # A lifecycle event: its body is one LifecycleEvent, published in a LifecycleEvents batch
    # with others of the same routing key, without ``mandatory`` (nobody listening is normal).
    event: bool = False

    def meta(self) -> dict[str, object]:
        e = self.envelope
        meta: dict[str, object] = {
            "x": e.exchange,
            "k": e.routing_key,
            "t": e.message_type,
            "m": e.message_id,
            "c": e.correlation_id,
            "crit": self.critical,
            "ev": self.event,
            "n": len(e.body),
        }
        if e.headers:  # the trace context (traceparent, tracestate), kept for the relay
            meta["h"] = e.headers
        return meta


class Traced(NamedTuple):
    """The trace headers of a transition's messages: its notifications', its outcome's (each
    the context of the span that publishes them, when spans are made) and its events'. (A
    tuple: made for every commit of a traced interaction.)"""

    notify: Headers
    outcome: Headers
    events: Headers


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """The messages of one committed transition: one outbox entry, published and deleted as
    one. Its id, ``<interaction_id>:<version>``, is unique per transition."""

    entry_id: str
    messages: tuple[OutboxMessage, ...]

    def encode(self) -> bytes:
        head = orjson.dumps([m.meta() for m in self.messages])
        return b"".join((head, b"\n", *(m.envelope.body for m in self.messages)))

    @classmethod
    def decode(cls, entry_id: str, payload: bytes) -> "OutboxEntry":
        """Raises ``UnreadableEntry`` for bytes no broker version wrote."""
        try:
            head, _, bodies = payload.partition(b"\n")
            metas = orjson.loads(head)
            if isinstance(metas, dict):  # written before entries held a whole transition
                return cls(entry_id, (_message(metas, bodies, event=not metas.get("mand", True)),))
            messages = []
            offset = 0
            for meta in metas:
                body = _body(bodies, offset, meta["n"])
                offset += meta["n"]
                messages.append(_message(meta, body, event=bool(meta["ev"])))
        except (ValueError, TypeError, KeyError) as exc:  # orjson's errors are ValueErrors
            raise UnreadableEntry(f"outbox entry {entry_id!r}: {exc!r}") from exc
        return cls(entry_id, tuple(messages))


class UnreadableEntry(ValueError):
    """An outbox entry that cannot be decoded (corrupt, or written by an unknown version)."""


def _body(bodies: bytes, offset: int, size: int) -> bytes:
    body = bodies[offset : offset + size]
    if len(body) != size:
        raise ValueError(f"the entry ends {size - len(body)} bytes early")
    return body


def _message(meta: dict[str, object], body: bytes, *, event: bool) -> OutboxMessage:
    def text(key: str) -> str:
        value = meta[key]
        if not isinstance(value, str):
            raise TypeError(f"{key!r} is {value!r}, not text")
        return value

    correlation = meta["c"]
    headers = meta.get("h")
    envelope = Envelope(
        text("x"),
        text("k"),
        body,
        text("t"),
        text("m"),
        correlation if isinstance(correlation, str) else None,
        headers if isinstance(headers, dict) else {},
    )
    return OutboxMessage(envelope, bool(meta["crit"]), event)


def event_message(
    event: LifecycleEvent, names: Names, message_id: str, headers: Headers = _NONE
) -> OutboxMessage:
    envelope = Envelope(
        names.events,
        event_key(event.event, event.kind),
        encode_model(event),
        EVENT_TYPE,
        message_id,
        str(event.interaction_id) if event.interaction_id else None,
        headers,
    )
    return OutboxMessage(envelope, critical=False, event=True)


def notification_body(note: Notification, request_json: bytes) -> bytes:
    """``encode_model(note)``, with the request spliced in from JSON made already."""
    head = orjson.dumps(
        {
            "schema_version": note.schema_version,
            "interaction_id": str(note.interaction_id),
            "reason": note.reason.value,
            "route": note.route,
            "attempt": note.attempt,
            "deadline": note.deadline,
        },
        option=orjson.OPT_UTC_Z,
    )
    return b"".join((head[:-1], b',"request":', request_json, b"}"))


_UNTRACED = Traced(_NONE, _NONE, _NONE)


def render(
    transition: Transition,
    names: Names,
    request_json: bytes | None = None,
    outcome_json: bytes | None = None,
    traced: Traced | None = None,
) -> OutboxEntry:
    """``request_json`` / ``outcome_json``: ``encode_model`` of the state's request / outcome,
    if the caller has them already (they are stored too, so each is serialised once).
    ``traced``: the trace headers the messages carry (none without a trace context)."""
    state = transition.state
    notify_headers, outcome_headers, event_headers = traced or _UNTRACED
    iid = str(state.request.id)
    out: list[OutboxMessage] = []
    for command in transition.commands:
        if isinstance(command, Notify):
            note = command.notification
            envelope = Envelope(
                names.notifications,
                notification_key(note.route, state.request.kind),
                notification_body(note, request_json or encode_model(state.request)),
                NOTIFICATION_TYPE,
                notification_message_id(
                    iid, note.reason, note.attempt, note.route if command.routed else None
                ),
                iid,
                notify_headers,
            )
            out.append(OutboxMessage(envelope, critical=False))
        elif isinstance(command, Emit):
            event = command.event
            out.append(event_message(event, names, f"event:{event.event_id}", event_headers))
        elif isinstance(command, Deliver):
            envelope = Envelope(
                names.outcomes,
                outcome_key(command.reply_to),
                outcome_json or encode_model(command.outcome),
                OUTCOME_TYPE,
                outcome_message_id(iid),
                iid,
                outcome_headers,
            )
            out.append(OutboxMessage(envelope, critical=True))
    return OutboxEntry(f"{iid}:{state.version}", tuple(out))


def event_batch(events: Sequence[Envelope]) -> Envelope:
    """One LifecycleEvents message carrying events that share exchange and routing key. The
    body is spliced from the events' own JSON rather than re-serialised. It carries the trace
    headers its events share (those of one interaction), none when they differ."""
    first = events[0]
    body = b"".join((_BATCH_HEAD, b",".join(e.body for e in events), b"]}"))
    digest = hashlib.blake2b(digest_size=12)
    headers = first.headers
    for e in events:
        digest.update(e.message_id.encode())
        if e.headers is not headers and e.headers != headers:
            headers = _NONE
    return Envelope(
        first.exchange,
        first.routing_key,
        body,
        EVENT_TYPE,
        f"events:{digest.hexdigest()}",
        None,
        headers,
    )


_BATCH_HEAD = b'{"schema_version":%d,"events":[' % SCHEMA_VERSION
