"""Interaction requests, one model per kind, discriminated on ``kind``.

Each kind names the actions a person may answer with; ``cancel`` and ``best_judgement`` are
accepted by every kind. The rules that check an answer against its request live in the
service core (``hitl.core.answers``); the models here only describe shapes.
"""

from datetime import datetime
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import Field, JsonValue, model_validator

from hitl_contract.common import ContractModel, Identity, JsonObject, Message

UNIVERSAL_ACTIONS: tuple[str, ...] = ("cancel", "best_judgement")
TIMEOUT_ACTION = "timeout"


class TimeoutPolicy(ContractModel):
    """The outcome a timeout produces: status ``timed_out`` with this action and data."""

    action: str = Field(default=TIMEOUT_ACTION, min_length=1, max_length=64)
    data: JsonObject = Field(default_factory=dict)


class RequestBase(Message):
    """Fields every interaction request carries, whatever its kind."""

    ACTIONS: ClassVar[tuple[str, ...]] = ()

    id: UUID = Field(description="Chosen by the producer; the correlation key of everything.")
    thread_id: str = Field(
        min_length=1, max_length=256, description="The producer's run or workflow."
    )
    node_name: str | None = Field(
        default=None, max_length=256, description="The step that asks, for display and routing."
    )
    prompt: str = Field(min_length=1, max_length=65_536)
    context: JsonObject = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict, description="String map for routing.")
    timeout_seconds: float | None = Field(default=None, gt=0, le=366 * 24 * 3600)
    on_timeout: TimeoutPolicy = Field(default_factory=TimeoutPolicy)
    reply_to: str = Field(
        min_length=1,
        max_length=255,
        description="Routing key on the outcomes exchange where the outcome is published.",
    )
    requester: Identity
    resume_state: JsonValue = Field(
        default=None, description="Returned untouched with the outcome, for stateless resume."
    )
    created_at: datetime | None = None

    @classmethod
    def allowed_actions(cls) -> tuple[str, ...]:
        return cls.ACTIONS + UNIVERSAL_ACTIONS

    @model_validator(mode="after")
    def _timeout_action_fits_kind(self) -> "RequestBase":
        allowed = (TIMEOUT_ACTION, *self.allowed_actions())
        if self.on_timeout.action not in allowed:
            raise ValueError(
                f"on_timeout.action {self.on_timeout.action!r} is not one of {list(allowed)}"
            )
        return self


class ApprovalRequest(RequestBase):
    """Approve or reject; a reason may accompany either (seed 001 approval, seed 004)."""

    ACTIONS: ClassVar[tuple[str, ...]] = ("approve", "reject")
    kind: Literal["approval"] = "approval"


class ChoiceRequest(RequestBase):
    """Pick one of the options, by 1-based number or by value (seed 001 choice, seed 000)."""

    ACTIONS: ClassVar[tuple[str, ...]] = ("choose",)
    kind: Literal["choice"] = "choice"
    options: list[Annotated[str, Field(min_length=1, max_length=1024)]] = Field(
        min_length=1, max_length=1000
    )


class TextInputRequest(RequestBase):
    """Free text within length limits (seed 001 text_input)."""

    ACTIONS: ClassVar[tuple[str, ...]] = ("respond",)
    kind: Literal["text_input"] = "text_input"
    min_length: int = Field(default=1, ge=0)
    max_length: int = Field(default=65_536, ge=1, le=1_048_576)


InteractionRequest = Annotated[
    ApprovalRequest | ChoiceRequest | TextInputRequest,
    Field(discriminator="kind"),
]
KIND_NAMES: tuple[str, ...] = ("approval", "choice", "text_input")
