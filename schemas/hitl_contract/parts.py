"""Building blocks of kind-specific requests: form fields, questions, batch items, turns."""

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, JsonValue, model_validator

from hitl_contract.common import ContractModel, Identity, JsonObject, refuse

Name = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$")]
ShortText = Annotated[str, Field(min_length=1, max_length=1024)]

FieldType = Literal["string", "text", "number", "integer", "boolean", "enum", "date"]


class FormField(ContractModel):
    """One typed form field (seed 003 form, seed 004 form_submit)."""

    # _fits_type, stated in the schema: an enum has options, other types have none.
    model_config = ConfigDict(
        json_schema_extra={
            "if": {"required": ["type"], "properties": {"type": {"const": "enum"}}},
            "then": {
                "required": ["options"],
                "properties": {"options": {"type": "array", "minItems": 1}},
            },
            "else": {"properties": {"options": {"type": "null"}}},
        }
    )

    name: Name
    label: str | None = Field(default=None, max_length=1024)
    type: FieldType = "string"
    required: bool = False
    min_length: int | None = Field(default=None, ge=0)
    max_length: int | None = Field(default=None, ge=1)
    minimum: float | None = None
    maximum: float | None = None
    options: list[ShortText] | None = Field(default=None, description="Allowed values of an enum.")
    default: JsonValue = None

    @model_validator(mode="after")
    def _fits_type(self) -> "FormField":
        if self.type == "enum" and not self.options:
            refuse("options", f"field {self.name!r}: an enum needs options", got=self.options)
        if self.type != "enum" and self.options is not None:
            refuse(
                "options", f"field {self.name!r}: only enum fields take options", got=self.options
            )
        return self


class TextField(ContractModel):
    """A named free-text answer of a structured text_input."""

    name: Name
    label: str | None = Field(default=None, max_length=1024)
    required: bool = True
    max_length: int = Field(default=65_536, ge=1, le=1_048_576)


class Question(ContractModel):
    """A clarifying question (seed 002); answered by its ``key`` or its 1-based number."""

    key: Name | None = None
    question: str = Field(min_length=1, max_length=4096)
    options: list[ShortText] | None = None
    rationale: str | None = Field(default=None, max_length=4096)


_NUMBERED = re.compile(r"^\s*(\d+)[.)]\s+(.*\S)\s*$")


def questions_from_markdown(text: str) -> list[dict[str, str]]:
    """``1. What level?\\n2. Which focus?`` -> one question per numbered item; continuation
    lines join the item above; text without numbered items is a single question."""
    items: list[str] = []
    for line in text.splitlines():
        match = _NUMBERED.match(line)
        if match:
            items.append(match.group(2))
        elif line.strip() and items:
            items[-1] += " " + line.strip()
    if not items and text.strip():
        items = [text.strip()]
    return [{"question": item} for item in items]


class BatchItem(ContractModel):
    """One item of a batch decision (seed 001 batch interactions)."""

    id: Name
    title: str = Field(min_length=1, max_length=1024)
    details: JsonObject = Field(default_factory=dict)


class Turn(ContractModel):
    """One message of a conversation transcript."""

    role: Literal["agent", "human"]
    text: str = Field(max_length=65_536)
    by: Identity | None = None
    at: datetime | None = None


class DecisionPolicy(ContractModel):
    """How many people must answer: the first answer (default), every named responder, or M."""

    # _quorum_has_m, stated in the schema: quorum (M) with policy quorum, and only there.
    model_config = ConfigDict(
        json_schema_extra={
            "if": {"required": ["policy"], "properties": {"policy": {"const": "quorum"}}},
            "then": {"required": ["quorum"], "properties": {"quorum": {"type": "integer"}}},
            "else": {"properties": {"quorum": {"type": "null"}}},
        }
    )

    policy: Literal["first", "all_of", "quorum"] = "first"
    quorum: int | None = Field(default=None, ge=1, description="M, for policy quorum.")

    @model_validator(mode="after")
    def _quorum_has_m(self) -> "DecisionPolicy":
        if (self.policy == "quorum") != (self.quorum is not None):
            refuse(
                "quorum",
                "quorum (M) is required with policy 'quorum' and only there",
                got=self.quorum,
            )
        return self


class EscalationStep(ContractModel):
    """After ``after_seconds`` pending, also notify ``route``."""

    after_seconds: float = Field(gt=0)
    route: Name
