"""The hitl wire contract: every message that crosses RabbitMQ, as pydantic v2 models.

Shared by the broker service and the producer SDK, and exported to JSON Schema and AsyncAPI
under ``schemas/`` so producers in other languages can speak it with a plain AMQP client.
"""

from hitl_contract.claims import Claim, ClaimAction, InteractionClaim
from hitl_contract.common import ErrorCode, ErrorDetail, Identity, JsonObject
from hitl_contract.events import (
    LifecycleEvent,
    LifecycleEventName,
    LifecycleEvents,
    Notification,
    NotifyReason,
)
from hitl_contract.history import HistoryEntry, HistoryEvent
from hitl_contract.kinds import (
    KIND_NAMES,
    ApprovalRequest,
    BatchRequest,
    ChoiceRequest,
    ClarifyRequest,
    ConfirmationRequest,
    ConversationRequest,
    EditRequest,
    FormRequest,
    InteractionRequest,
    PreviewRequest,
    RequestBase,
    TextInputRequest,
    TimeoutPolicy,
    ValidationRequest,
)
from hitl_contract.outcome import DecidedBy, InteractionOutcome, OutcomeStatus, Vote
from hitl_contract.parts import (
    BatchItem,
    DecisionPolicy,
    EscalationStep,
    FormField,
    Question,
    TextField,
    Turn,
)
from hitl_contract.response import HumanResponse, ReceiptResult, ResponseReceipt
from hitl_contract.version import READ_SCHEMA_VERSIONS, SCHEMA_VERSION

__all__ = [
    "KIND_NAMES",
    "READ_SCHEMA_VERSIONS",
    "SCHEMA_VERSION",
    "ApprovalRequest",
    "BatchItem",
    "BatchRequest",
    "ChoiceRequest",
    "Claim",
    "ClaimAction",
    "ClarifyRequest",
    "ConfirmationRequest",
    "ConversationRequest",
    "DecidedBy",
    "DecisionPolicy",
    "EditRequest",
    "ErrorCode",
    "ErrorDetail",
    "EscalationStep",
    "FormField",
    "FormRequest",
    "HistoryEntry",
    "HistoryEvent",
    "HumanResponse",
    "Identity",
    "InteractionClaim",
    "InteractionOutcome",
    "InteractionRequest",
    "JsonObject",
    "LifecycleEvent",
    "LifecycleEventName",
    "LifecycleEvents",
    "Notification",
    "NotifyReason",
    "OutcomeStatus",
    "PreviewRequest",
    "Question",
    "ReceiptResult",
    "RequestBase",
    "ResponseReceipt",
    "TextField",
    "TextInputRequest",
    "TimeoutPolicy",
    "Turn",
    "ValidationRequest",
    "Vote",
]
