"""Turning a transition's commands into the AMQP messages that carry them, and back from the
outbox. Message ids are stable (``outcome:<id>``...), so a consumer can drop the rare duplicate
that a crash between publish and outbox cleanup produces."""

from dataclasses import dataclass

import orjson
from pydantic import BaseModel

from hitl.adapters.amqp.publisher import Envelope
from hitl.adapters.amqp.topology import Names
from hitl.core.machine import Deliver, Emit, Notify, Transition

NOTIFICATION_TYPE = "hitl.notification"
EVENT_TYPE = "hitl.event"
OUTCOME_TYPE = "hitl.outcome"
RECEIPT_TYPE = "hitl.receipt"


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    entry_id: str
    envelope: Envelope
    critical: bool  # unroutable means nobody can ever learn it: dead-letter a copy
    # Lifecycle events fan out to whoever listens; nobody listening is normal, so they are
    # published without ``mandatory`` (returns would cost both sides CPU for nothing).
    mandatory: bool = True

    def encode(self) -> bytes:
        e = self.envelope
        meta = {
            "x": e.exchange,
            "k": e.routing_key,
            "t": e.message_type,
            "m": e.message_id,
            "c": e.correlation_id,
            "crit": self.critical,
            "mand": self.mandatory,
        }
        return orjson.dumps(meta) + b"\n" + e.body

    @classmethod
    def decode(cls, entry_id: str, payload: bytes) -> "OutboxMessage":
        head, _, body = payload.partition(b"\n")
        meta = orjson.loads(head)
        envelope = Envelope(
            exchange=meta["x"],
            routing_key=meta["k"],
            body=body,
            message_type=meta["t"],
            message_id=meta["m"],
            correlation_id=meta["c"],
        )
        return cls(entry_id, envelope, bool(meta["crit"]), bool(meta.get("mand", True)))


def encode_model(model: BaseModel) -> bytes:
    """JSON in one pass of pydantic's compiled serializer."""
    return model.__pydantic_serializer__.to_json(model)


def render(transition: Transition, names: Names) -> list[OutboxMessage]:
    state = transition.state
    iid = str(state.request.id)
    out: list[OutboxMessage] = []
    for n, command in enumerate(transition.commands):
        entry_id = f"{iid}:{state.version}:{n}"
        if isinstance(command, Notify):
            note = command.notification
            envelope = Envelope(
                names.notifications,
                f"{note.route}.{state.request.kind}",
                encode_model(note),
                NOTIFICATION_TYPE,
                f"notification:{iid}:{note.reason}:{note.attempt}",
                iid,
            )
            out.append(OutboxMessage(entry_id, envelope, critical=False))
        elif isinstance(command, Emit):
            event = command.event
            envelope = Envelope(
                names.events,
                f"{event.event}.{state.request.kind}",
                encode_model(event),
                EVENT_TYPE,
                f"event:{iid}:{event.event}:{state.version}",
                iid,
            )
            out.append(OutboxMessage(entry_id, envelope, critical=False, mandatory=False))
        elif isinstance(command, Deliver):
            envelope = Envelope(
                names.outcomes,
                command.reply_to,
                encode_model(command.outcome),
                OUTCOME_TYPE,
                f"outcome:{iid}",
                iid,
            )
            out.append(OutboxMessage(entry_id, envelope, critical=True))
    return out
