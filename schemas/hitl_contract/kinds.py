"""Interaction requests, one model per kind, discriminated on ``kind``.

Each kind names the actions a person may answer with; ``cancel`` and ``best_judgement`` are
accepted by every kind. The rules that check an answer against its request live in the service
core (``hitl.core.rules``); the models here describe shapes and what a request may ask for.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from pydantic import Field, GetJsonSchemaHandler, JsonValue, field_validator, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from hitl_contract.common import ContractModel, Identity, JsonObject, Message, refuse
from hitl_contract.parts import (
    BatchItem,
    DecisionPolicy,
    EscalationStep,
    FormField,
    Name,
    Question,
    ShortText,
    TextField,
    Turn,
    questions_from_markdown,
)

UNIVERSAL_ACTIONS: tuple[str, ...] = ("cancel", "best_judgement")
TIMEOUT_ACTION = "timeout"
GROUP_PREFIX = "group:"


class TimeoutPolicy(ContractModel):
    """The outcome a timeout produces: status ``timed_out`` with this action and data."""

    action: str = Field(default=TIMEOUT_ACTION, min_length=1, max_length=64)
    data: JsonObject = Field(default_factory=dict)


class RequestBase(Message):
    """Fields every interaction request carries, whatever its kind."""

    ACTIONS: ClassVar[tuple[str, ...]] = ()
    # The answer an auto-approve policy gives when it names none: (action, data), or None
    # when the kind has no safe default and a policy must say what to answer.
    DEFAULT_ANSWER: ClassVar[tuple[str, dict[str, Any]] | None] = None

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
    route: Name | None = Field(
        default=None, description="Notification route; the broker's default route when absent."
    )
    timeout_seconds: float | None = Field(default=None, gt=0, le=366 * 24 * 3600)
    on_timeout: TimeoutPolicy = Field(default_factory=TimeoutPolicy)
    reminder_every_seconds: float | None = Field(
        default=None, gt=0, description="Notify again at this interval while pending."
    )
    max_reminders: int | None = Field(default=None, ge=1)
    escalation: list[EscalationStep] = Field(
        default_factory=list, max_length=32, description="After T1 also notify route X, ..."
    )
    responders: list[Annotated[str, Field(min_length=1, max_length=256)]] | None = Field(
        default=None,
        max_length=1000,
        description="Who may answer: identity ids, or 'group:<name>'. Anyone when absent.",
    )
    decision: DecisionPolicy = Field(default_factory=DecisionPolicy)
    auto_approve: bool = Field(
        default=False, description="Resolve at once with the kind's default answer (seed 002)."
    )
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

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """The published schema states the validators' rules that JSON Schema can state, so a
        client that validates before sending refuses what the broker refuses. The rest are
        listed in docs/contract.md ("Rules beyond the schemas")."""
        schema = handler(core_schema)
        target = handler.resolve_ref_schema(schema)
        if "kind" not in target.setdefault("required", []):  # the union's tag: never defaulted
            target["required"].append("kind")
        rules = cls.schema_rules()
        if rules:
            target.setdefault("allOf", []).extend(rules)
        return schema

    @classmethod
    def schema_rules(cls) -> list[JsonSchemaValue]:
        """This kind's cross-field rules in JSON Schema (``allOf`` members)."""
        rules: list[JsonSchemaValue] = [
            # _timeout_action_fits_kind
            {
                "properties": {
                    "on_timeout": {
                        "properties": {"action": {"enum": [TIMEOUT_ACTION, *cls.allowed_actions()]}}
                    }
                }
            },
            # _decision_fits_responders: all_of and quorum name responders; all_of names people
            {
                "if": _decision_is("all_of", "quorum"),
                "then": {
                    "required": ["responders"],
                    "properties": {"responders": {"type": "array", "minItems": 1}},
                },
            },
            {
                "if": _decision_is("all_of"),
                "then": {
                    "properties": {
                        "responders": {"items": {"not": {"pattern": f"^{GROUP_PREFIX}"}}}
                    }
                },
            },
        ]
        if cls.DEFAULT_ANSWER is None:  # _auto_approve_has_default
            rules.append({"properties": {"auto_approve": {"const": False}}})
        return rules

    @field_validator("reply_to")
    @classmethod
    def _reply_to_fits_amqp(cls, value: str) -> str:
        size = len(value.encode())
        if size > 255:  # an AMQP short string
            raise ValueError(f"reply_to is an AMQP routing key: at most 255 bytes, got {size}")
        return value

    @model_validator(mode="after")
    def _timeout_action_fits_kind(self) -> "RequestBase":
        allowed = [TIMEOUT_ACTION, *self.allowed_actions()]
        action = self.on_timeout.action
        if action not in allowed:
            refuse(
                "on_timeout.action",
                f"on_timeout.action {action!r} is not one of {allowed}",
                got=action,
                allowed=allowed,
            )
        return self

    @model_validator(mode="after")
    def _auto_approve_has_default(self) -> "RequestBase":
        if self.auto_approve and self.DEFAULT_ANSWER is None:
            refuse(
                "auto_approve",
                "auto_approve needs a kind with a default answer: approval, clarify, "
                "confirmation, preview or validation",
                got=True,
                allowed=[False],
            )
        return self

    @model_validator(mode="after")
    def _decision_fits_responders(self) -> "RequestBase":
        policy = self.decision.policy
        if policy == "first":
            return self
        if not self.responders:
            refuse(
                "responders", f"decision.policy {policy!r} needs responders", got=self.responders
            )
        responders = self.responders or []
        groups = [r for r in responders if r.startswith(GROUP_PREFIX)]
        if policy == "all_of" and groups:
            refuse(
                "responders",
                f"decision.policy 'all_of' needs named people, not {groups}",
                got=groups,
            )
        quorum = self.decision.quorum or 0
        if policy == "quorum" and not groups and quorum > len(set(responders)):
            refuse(
                "decision.quorum",
                f"decision.quorum {quorum} is more than the {len(set(responders))} responders",
                got=quorum,
            )
        return self


def _decision_is(*policies: str) -> JsonSchemaValue:
    return {
        "required": ["decision"],
        "properties": {
            "decision": {"required": ["policy"], "properties": {"policy": {"enum": list(policies)}}}
        },
    }


def _unique(values: Sequence[str | None], what: str, at: str, field: str = "") -> None:
    """``at``: the list's path; the error points at the second occurrence, ``at[i]``, or at
    its ``field`` when the list holds objects. A None (an unnamed entry) is never a duplicate."""
    seen: set[str] = set()
    for n, value in enumerate(values):
        if value is None:
            continue
        if value in seen:
            where = f"{at}[{n}].{field}" if field else f"{at}[{n}]"
            refuse(where, f"{what} {value!r} appears twice", got=value)
        seen.add(value)


class ApprovalRequest(RequestBase):
    """Approve or reject; a reason may accompany either (seed 001 approval, seed 004)."""

    ACTIONS: ClassVar[tuple[str, ...]] = ("approve", "reject")
    DEFAULT_ANSWER: ClassVar[tuple[str, dict[str, Any]] | None] = ("approve", {})
    kind: Literal["approval"] = "approval"


class ChoiceRequest(RequestBase):
    """Pick from options by 1-based number or by value; one, or several within limits; an
    optional free-text "other" answer (seed 001 choice, seed 000, seed 003 selection)."""

    ACTIONS: ClassVar[tuple[str, ...]] = ("choose",)
    kind: Literal["choice"] = "choice"
    options: list[ShortText] = Field(
        min_length=1, max_length=1000, json_schema_extra={"uniqueItems": True}
    )
    multiple: bool = False
    min_selections: int = Field(default=1, ge=0)
    max_selections: int | None = Field(default=None, ge=1)
    allow_other: bool = Field(default=False, description="Accept a free-text 'other' answer.")

    @classmethod
    def schema_rules(cls) -> list[JsonSchemaValue]:
        single = {  # _limits: without multiple, at most one selection
            "properties": {
                "min_selections": {"maximum": 1},
                "max_selections": {"anyOf": [{"type": "null"}, {"maximum": 1}]},
            }
        }
        multiple = {"required": ["multiple"], "properties": {"multiple": {"const": True}}}
        return [*super().schema_rules(), {"if": multiple, "else": single}]

    @model_validator(mode="after")
    def _limits(self) -> "ChoiceRequest":
        _unique(self.options, "option", "options")
        if not self.multiple and (self.min_selections > 1 or (self.max_selections or 1) > 1):
            refuse(
                "multiple",
                "min_selections/max_selections above 1 need multiple: true",
                got=False,
                allowed=[True],
            )
        if self.max_selections is not None and self.max_selections < self.min_selections:
            refuse(
                "max_selections",
                f"max_selections is below min_selections ({self.min_selections})",
                got=self.max_selections,
            )
        return self


class TextInputRequest(RequestBase):
    """Free text within length limits, or named text fields (seed 001 text_input)."""

    ACTIONS: ClassVar[tuple[str, ...]] = ("respond",)
    kind: Literal["text_input"] = "text_input"
    min_length: int = Field(default=1, ge=0)
    max_length: int = Field(default=65_536, ge=1, le=1_048_576)
    fields: list[TextField] | None = Field(default=None, min_length=1, max_length=100)

    @model_validator(mode="after")
    def _names(self) -> "TextInputRequest":
        _unique([f.name for f in self.fields or []], "field", "fields", "name")
        return self


class EditRequest(RequestBase):
    """Edit content; the answer carries the edited content and a list of changes (seed 001)."""

    ACTIONS: ClassVar[tuple[str, ...]] = ("edit",)
    kind: Literal["edit"] = "edit"
    content: str = Field(max_length=1_048_576, description="The original content.")
    content_type: str | None = Field(default=None, max_length=128)


class ConversationRequest(RequestBase):
    """One turn of a dialogue: the prompt is the agent's message. The person replies to go on
    or ends the conversation; the outcome returns the whole transcript (seed 001)."""

    ACTIONS: ClassVar[tuple[str, ...]] = ("respond", "end")
    kind: Literal["conversation"] = "conversation"
    transcript: list[Turn] = Field(default_factory=list, max_length=1000)


class FormRequest(RequestBase):
    """Typed fields with required flags and limits (seed 003 form, seed 004 form_submit)."""

    ACTIONS: ClassVar[tuple[str, ...]] = ("submit",)
    kind: Literal["form"] = "form"
    fields: list[FormField] = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _names(self) -> "FormRequest":
        _unique([f.name for f in self.fields], "field", "fields", "name")
        return self


_MARKDOWN_LIMIT = 65_536
_QUESTIONS_SENT = (
    Annotated[list[Question], Field(min_length=1, max_length=100)]
    | Annotated[str, Field(min_length=1, max_length=_MARKDOWN_LIMIT)]
)


class ClarifyRequest(RequestBase):
    """Clarifying questions, answered one by one; a markdown numbered list is accepted and
    split into questions (seed 002 ClarifyingQuestion)."""

    ACTIONS: ClassVar[tuple[str, ...]] = ("answer", "proceed")
    DEFAULT_ANSWER: ClassVar[tuple[str, dict[str, Any]] | None] = (
        "answer",
        {"answers": {"response": ""}},
    )
    kind: Literal["clarify"] = "clarify"
    questions: list[Question] = Field(min_length=1, max_length=100)
    rationale: str | None = Field(default=None, max_length=4096)

    # The schema says what is accepted: the list, or a markdown numbered list as one string.
    @field_validator("questions", mode="before", json_schema_input_type=_QUESTIONS_SENT)
    @classmethod
    def _markdown(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if len(value) > _MARKDOWN_LIMIT:  # as the schema says
            raise ValueError(f"at most {_MARKDOWN_LIMIT} characters, got {len(value)}")
        return questions_from_markdown(value)

    @model_validator(mode="after")
    def _keys(self) -> "ClarifyRequest":
        _unique([q.key for q in self.questions], "question key", "questions", "key")
        return self


class _Review(RequestBase):
    """Shared by confirmation, preview and validation: proceed, or send back with feedback."""

    DEFAULT_ANSWER: ClassVar[tuple[str, dict[str, Any]] | None] = ("proceed", {})
    FEEDBACK_ACTIONS: ClassVar[tuple[str, ...]] = ()


class ConfirmationRequest(_Review):
    """Confirm an understanding before work begins (seed 002 Confirmation)."""

    ACTIONS: ClassVar[tuple[str, ...]] = ("proceed", "revise")
    FEEDBACK_ACTIONS: ClassVar[tuple[str, ...]] = ("revise",)
    kind: Literal["confirmation"] = "confirmation"
    summary: str = Field(min_length=1, max_length=65_536)
    path: str | None = Field(default=None, max_length=1024)
    key_assumptions: list[str] = Field(default_factory=list, max_length=100)
    confidence: float | None = Field(default=None, ge=0, le=1)


class PreviewRequest(_Review):
    """Review generated content before it is finalised (seed 002 Preview)."""

    ACTIONS: ClassVar[tuple[str, ...]] = ("proceed", "refine")
    FEEDBACK_ACTIONS: ClassVar[tuple[str, ...]] = ("refine",)
    kind: Literal["preview"] = "preview"
    content: str = Field(min_length=1, max_length=1_048_576)
    highlights: list[str] = Field(default_factory=list, max_length=100)
    potential_issues: list[str] = Field(default_factory=list, max_length=100)


class ValidationRequest(_Review):
    """Accept a validation report or ask for refinement (seed 002 Validation)."""

    ACTIONS: ClassVar[tuple[str, ...]] = ("proceed", "refine")
    FEEDBACK_ACTIONS: ClassVar[tuple[str, ...]] = ("refine",)
    kind: Literal["validation"] = "validation"
    report: str = Field(min_length=1, max_length=1_048_576)
    passed: bool
    validation_score: float | None = Field(default=None, ge=0, le=1)
    skill_content: str | None = Field(default=None, max_length=1_048_576)
    saved_path: str | None = Field(default=None, max_length=1024)


class BatchRequest(RequestBase):
    """N items decided per item or all at once (seed 001 batch interactions)."""

    ACTIONS: ClassVar[tuple[str, ...]] = ("decide",)
    kind: Literal["batch"] = "batch"
    items: list[BatchItem] = Field(min_length=1, max_length=1000)
    item_actions: list[Name] = Field(
        default_factory=lambda: ["approve", "reject"],
        min_length=1,
        json_schema_extra={"uniqueItems": True},
    )

    @model_validator(mode="after")
    def _ids(self) -> "BatchRequest":
        _unique([item.id for item in self.items], "item id", "items", "id")
        _unique(self.item_actions, "item action", "item_actions")
        return self


InteractionRequest = Annotated[
    ApprovalRequest
    | ChoiceRequest
    | TextInputRequest
    | EditRequest
    | ConversationRequest
    | FormRequest
    | ClarifyRequest
    | ConfirmationRequest
    | PreviewRequest
    | ValidationRequest
    | BatchRequest,
    Field(discriminator="kind"),
]
KIND_MODELS: dict[str, type[RequestBase]] = {
    model.model_fields["kind"].default: model
    for model in (
        ApprovalRequest,
        ChoiceRequest,
        TextInputRequest,
        EditRequest,
        ConversationRequest,
        FormRequest,
        ClarifyRequest,
        ConfirmationRequest,
        PreviewRequest,
        ValidationRequest,
        BatchRequest,
    )
}
KIND_NAMES: tuple[str, ...] = tuple(KIND_MODELS)
