"""A person's answer from the chat (submit the form, "use your best judgement", cancel), sent
to the broker as that person, and what the broker said of it: accepted, or refused with each
field's error to show in the chat."""

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from hitl.sdk import Responder
from hitl_contract import ErrorDetail, HumanResponse, Identity, InteractionOutcome

_ANSWERS = "data.answers."


@dataclass(frozen=True, slots=True)
class FieldError:
    """``field`` is the form field's name (None when the error is not about one field)."""

    field: str | None
    message: str


@dataclass(frozen=True, slots=True)
class Answered:
    """``result`` as the broker's receipt says: accepted, recorded, rejected, already_resolved,
    unknown_interaction (or held). ``outcome`` when it decided (or had been decided)."""

    result: str
    errors: list[FieldError] = field(default_factory=list)
    outcome: InteractionOutcome | None = None

    @property
    def accepted(self) -> bool:
        return self.result in {"accepted", "recorded", "held"}


def field_errors(error: ErrorDetail) -> list[FieldError]:
    """Every field error of a refused answer (a form's are in ``details``)."""
    return [
        FieldError(_field_of(detail.path), detail.message) for detail in error.details or [error]
    ]


def _field_of(path: str | None) -> str | None:
    if path and path.startswith(_ANSWERS):
        return path.removeprefix(_ANSWERS).split(".", 1)[0].split("[", 1)[0]
    return None


class ChatAnswers:
    """Answers as the chat's person (``Identity``), through a ``Responder``, each waiting up to
    ``timeout`` seconds for the broker's receipt (``TimeoutError`` beyond)."""

    def __init__(self, responder: Responder, *, channel: str = "chat", timeout: float = 10.0):
        self._responder = responder
        self._channel = channel
        self._timeout = timeout

    async def submit(
        self, interaction_id: UUID, person: Identity, answers: dict[str, Any]
    ) -> Answered:
        return await self.answer(interaction_id, person, "submit", {"answers": answers})

    async def best_judgement(
        self, interaction_id: UUID, person: Identity, note: str | None = None
    ) -> Answered:
        data = {"note": note} if note else {}
        return await self.answer(interaction_id, person, "best_judgement", data)

    async def cancel(
        self, interaction_id: UUID, person: Identity, reason: str | None = None
    ) -> Answered:
        return await self.answer(
            interaction_id, person, "cancel", {"reason": reason} if reason else {}
        )

    async def answer(
        self, interaction_id: UUID, person: Identity, action: str, data: dict[str, Any]
    ) -> Answered:
        response = HumanResponse(
            interaction_id=interaction_id,
            action=action,
            data=data,
            responder=person,
            channel=self._channel,
        )
        receipt = await self._responder.respond(response, timeout=self._timeout)
        assert receipt is not None  # a timeout is given, so a receipt or TimeoutError
        errors = field_errors(receipt.error) if receipt.error is not None else []
        return Answered(receipt.result, errors, receipt.outcome)
