"""Pieces every message shares: the base model, identities, JSON values and error details."""

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue
from pydantic_core import PydanticCustomError

from hitl_contract.version import SCHEMA_VERSION, SchemaVersion

JsonObject = dict[str, JsonValue]


class ContractModel(BaseModel):
    """Strict by default: unknown fields are errors, so a typo is reported instead of dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def refuse(at: str, message: str, *, got: Any = None, allowed: list[Any] | None = None) -> None:
    """Raise from a model validator, naming the place inside the model that is wrong (``at``,
    e.g. ``on_timeout.action`` or ``options[2]``), what was sent there and what would be valid.
    The broker turns these into the error's ``path``, ``got`` and ``allowed``; a plain
    ``ValueError`` would only point at the whole model."""
    raise PydanticCustomError(
        "invalid", "{message}", {"message": message, "at": at, "got": got, "allowed": allowed}
    )


class Message(ContractModel):
    schema_version: SchemaVersion = Field(
        default=SCHEMA_VERSION, description="Version of this contract; 1 today."
    )


class Identity(ContractModel):
    """Who asked or who answered: a person, a service, or a group."""

    id: str = Field(min_length=1, max_length=256, description="Stable identifier, e.g. an email.")
    display_name: str | None = Field(default=None, max_length=256)
    service: str | None = Field(
        default=None, max_length=256, description="The service acting for this identity."
    )
    groups: list[str] = Field(
        default_factory=list, max_length=256, description="Groups the identity belongs to."
    )


class ErrorCode(StrEnum):
    MALFORMED_JSON = "malformed_json"
    UNSUPPORTED_SCHEMA_VERSION = "unsupported_schema_version"
    UNKNOWN_KIND = "unknown_kind"
    INVALID_FIELD = "invalid_field"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    ID_CONFLICT = "id_conflict"
    UNKNOWN_INTERACTION = "unknown_interaction"
    INVALID_RESPONSE = "invalid_response"
    UNROUTABLE = "unroutable"
    NOT_ALLOWED = "not_allowed"
    CLAIMED = "claimed"  # someone else holds a claim on the interaction (hitl_contract.claims)
    INVALID_CONFIG = "invalid_config"  # a routing config refused on reload
    UNDELIVERABLE = "undeliverable"  # a notification no receiver could be sent
    NOT_RESUMABLE = "not_resumable"  # an outcome a resumer could not apply to its thread
    INTERNAL = "internal"


class ErrorDetail(ContractModel):
    """What was wrong and where: specific enough for the sender to fix it without guessing."""

    code: ErrorCode
    message: str
    path: str | None = Field(
        default=None, description="Where in the message, e.g. 'options[2]' or 'data.choice'."
    )
    allowed: list[Any] | None = Field(default=None, description="The values that would be valid.")
    got: JsonValue = Field(default=None, description="What was sent there (truncated).")
    details: list["ErrorDetail"] | None = Field(
        default=None, description="Every field-level error, when there are several (forms)."
    )
